package grammar

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestIntegerRangeExact checks the integer range grammar against the range
// itself, at and around the bounds and at random values, for bounds of
// every magnitude and sign.
func TestIntegerRangeExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	mag := func() int64 {
		d := rng.IntN(16)
		v := rng.Int64N(pow10(d))
		if rng.IntN(3) == 0 {
			v = -v
		}
		return v
	}
	for i := 0; i < 300; i++ {
		lo, hi := mag(), mag()
		if lo > hi {
			lo, hi = hi, lo
		}
		schema := fmt.Sprintf(`{"type":"integer","minimum":%d,"maximum":%d}`, lo, hi)
		g, err := CompileSchema([]byte(schema))
		if err != nil {
			t.Fatalf("%s: %v", schema, err)
		}
		probes := []int64{lo - 1, lo, lo + 1, hi - 1, hi, hi + 1, 0, -1, 1, (lo + hi) / 2}
		for j := 0; j < 20; j++ {
			probes = append(probes, mag())
		}
		for _, x := range probes {
			if x < -maxIntValue || x > maxIntValue {
				continue
			}
			want := lo <= x && x <= hi
			if got := g.Match([]byte(strconv.FormatInt(x, 10))); got != want {
				t.Fatalf("%s: %d: match %v, want %v", schema, x, got, want)
			}
		}
		for _, bad := range []string{"-0", "00", "01", "-01"} {
			if g.Match([]byte(bad)) {
				t.Fatalf("%s: accepts %s", schema, bad)
			}
		}
	}
}

// TestNumberRangeSound checks that the number grammar never admits a value
// outside its range (exclusive bounds included), and admits every integer
// in it, for random decimal bounds and texts.
func TestNumberRangeSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	num := func() string {
		s := strconv.FormatInt(rng.Int64N(2000)-1000, 10)
		if rng.IntN(2) == 0 {
			s += "." + strconv.Itoa(rng.IntN(1000))
		}
		return s
	}
	for i := 0; i < 300; i++ {
		a, b := num(), num()
		ra, _ := new(big.Rat).SetString(a)
		rb, _ := new(big.Rat).SetString(b)
		if ra.Cmp(rb) > 0 {
			a, b, ra, rb = b, a, rb, ra
		}
		loKey, hiKey := "minimum", "maximum"
		loExcl, hiExcl := rng.IntN(2) == 0, rng.IntN(2) == 0
		if loExcl {
			loKey = "exclusiveMinimum"
		}
		if hiExcl {
			hiKey = "exclusiveMaximum"
		}
		schema := fmt.Sprintf(`{"type":"number","%s":%s,"%s":%s}`, loKey, a, hiKey, b)
		g, err := CompileSchema([]byte(schema))
		if err != nil {
			continue // a range the approximation cannot write in: refused, fine
		}
		in := func(x *big.Rat) bool {
			c1, c2 := x.Cmp(ra), x.Cmp(rb)
			return (c1 > 0 || c1 == 0 && !loExcl) && (c2 < 0 || c2 == 0 && !hiExcl)
		}
		for j := 0; j < 200; j++ {
			text := num()
			if rng.IntN(4) == 0 {
				text = a
			} else if rng.IntN(4) == 0 {
				text = b
			}
			x, _ := new(big.Rat).SetString(text)
			if g.Match([]byte(text)) && !in(x) {
				t.Fatalf("%s: admits %s", schema, text)
			}
			if x.IsInt() && in(x) && !g.Match([]byte(x.RatString())) {
				t.Fatalf("%s: refuses the integer %s", schema, x.RatString())
			}
		}
	}
}

// TestMultipleOfExact checks the remainder automaton against arithmetic.
func TestMultipleOfExact(t *testing.T) {
	for _, tc := range []struct {
		schema string
		ok     func(int64) bool
	}{
		{`{"type":"integer","multipleOf":7}`, func(x int64) bool { return x%7 == 0 }},
		{`{"type":"integer","multipleOf":12,"minimum":0}`, func(x int64) bool { return x%12 == 0 && x >= 0 }},
		{`{"type":"integer","multipleOf":12,"exclusiveMinimum":0}`, func(x int64) bool { return x%12 == 0 && x > 0 }},
		{`{"type":"integer","multipleOf":5,"maximum":3}`, func(x int64) bool { return x%5 == 0 && x <= 3 }},
		{`{"type":"integer","multipleOf":3,"minimum":-20,"maximum":40}`, func(x int64) bool { return x%3 == 0 && x >= -20 && x <= 40 }},
	} {
		t.Run(tc.schema, func(t *testing.T) {
			g, err := CompileSchema([]byte(tc.schema))
			if err != nil {
				t.Fatal(err)
			}
			for x := int64(-1000); x <= 1000; x++ {
				if got := g.Match([]byte(strconv.FormatInt(x, 10))); got != tc.ok(x) {
					t.Fatalf("%d: match %v", x, got)
				}
			}
		})
	}
}

// TestDateFormatExact checks format date against time.Parse over every
// month and day of years around the leap-year rules.
func TestDateFormatExact(t *testing.T) {
	g, err := CompileSchema([]byte(`{"type":"string","format":"date"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, y := range []int{1900, 1996, 2000, 2023, 2024, 2100, 2400} {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				s := fmt.Sprintf("%04d-%02d-%02d", y, m, d)
				_, perr := time.Parse("2006-01-02", s)
				if got := g.Match([]byte(`"` + s + `"`)); got != (perr == nil) {
					t.Errorf("%s: match %v, time.Parse %v", s, got, perr)
				}
			}
		}
	}
}
