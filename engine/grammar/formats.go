package grammar

// The format grammars, as regular expressions over the decoded text, each
// anchored at both ends. They are practical subsets of the RFCs, every text
// of which the RFC (and common validators) accept:
//
//   - date: RFC 3339 full-date, days checked against the month, 29 February
//     only in leap years (Gregorian rule).
//   - time: RFC 3339 full-time hh:mm:ss, up to 9 fraction digits, offset Z
//     or ±hh:mm; no leap second.
//   - date-time: date "T" time.
//   - duration: RFC 3339 appendix A (ISO 8601): PnW, or PnYnMnD with the
//     parts in order and an optional TnHnMnS; at most 9 digits a number.
//   - email: a dot-atom local part of letters, digits and _%+- (1-3 atoms of
//     up to 16 characters) "@" a hostname.
//   - hostname: 1-5 dot-separated labels of letters, digits and inner
//     hyphens, each of up to 32 characters (RFC 1123).
//   - ipv4: dotted quad without leading zeros.
//   - ipv6: RFC 4291 hexadecimal groups, with at most one "::"; no embedded
//     IPv4, no zone.
//   - uuid: 8-4-4-4-12 hexadecimal digits.
//   - uri: scheme "://" hostname, optional port, up to 16 path segments,
//     optional query and fragment, of unreserved and sub-delimiter
//     characters (no percent escapes); at most ~1400 characters.
//
// "binary" and "password" (Pydantic's bytes and SecretStr) have no syntax of
// their own: the string is unconstrained.
const (
	reYearLeap  = `(\d\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)-02-29`
	reMonthDay  = `((0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)`
	reDate      = `(\d{4}-` + reMonthDay + `|` + reYearLeap + `)`
	reTime      = `([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)`
	reNum       = `\d{1,9}`
	reDurTime   = `T(` + reNum + `H(` + reNum + `M(` + reNum + `S)?)?|` + reNum + `M(` + reNum + `S)?|` + reNum + `S)`
	reDurDate   = `(` + reNum + `Y(` + reNum + `M(` + reNum + `D)?)?|` + reNum + `M(` + reNum + `D)?|` + reNum + `D)`
	reDuration  = `P(` + reNum + `W|` + reDurDate + `(` + reDurTime + `)?|` + reDurTime + `)`
	reLabel     = `[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?`
	reHostname  = reLabel + `(\.` + reLabel + `){0,4}`
	reAtom      = `[A-Za-z0-9_%+-]{1,16}`
	reEmail     = reAtom + `(\.` + reAtom + `){0,2}@` + reHostname
	reOctet     = `(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`
	reIPv4      = reOctet + `(\.` + reOctet + `){3}`
	reHex4      = `[0-9a-fA-F]{1,4}`
	reIPv6      = `((` + reHex4 + `:){7}` + reHex4 + `|(` + reHex4 + `:){1,7}:|(` + reHex4 + `:){1,6}:` + reHex4 + `|(` + reHex4 + `:){1,5}(:` + reHex4 + `){1,2}|(` + reHex4 + `:){1,4}(:` + reHex4 + `){1,3}|(` + reHex4 + `:){1,3}(:` + reHex4 + `){1,4}|(` + reHex4 + `:){1,2}(:` + reHex4 + `){1,5}|` + reHex4 + `:(:` + reHex4 + `){1,6}|:((:` + reHex4 + `){1,7}|:))`
	reUUID      = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	reURIChar   = `[A-Za-z0-9._~!$&'()*+,;=:@-]`
	reURIPart   = `[A-Za-z0-9._~!$&'()*+,;=:@/?-]`
	reURI       = `[a-zA-Z][a-zA-Z0-9+.-]{0,15}://` + reHostname + `(:[1-9]\d{0,3})?(/` + reURIChar + `{0,64}){0,16}(\?` + reURIPart + `{0,128})?(#` + reURIPart + `{0,64})?`
	formatNames = "date, time, date-time, duration, email, hostname, ipv4, ipv6, uuid, uri, binary, password"
)

// supportedFormats lists the formats for errors.
const supportedFormats = formatNames

// formatPattern returns the regular expression of a format, "" for a format
// that does not constrain the text, and false for an unknown format.
func formatPattern(name string) (string, bool) {
	switch name {
	case "date":
		return reDate, true
	case "time":
		return reTime, true
	case "date-time":
		return reDate + "T" + reTime, true
	case "duration":
		return reDuration, true
	case "email":
		return reEmail, true
	case "hostname":
		return reHostname, true
	case "ipv4":
		return reIPv4, true
	case "ipv6":
		return reIPv6, true
	case "uuid":
		return reUUID, true
	case "uri":
		return reURI, true
	case "binary", "password":
		return "", true
	}
	return "", false
}
