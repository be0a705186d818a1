package chat

import "strings"

// protectInlineBlocks works around gonja's lstrip_blocks, which strips the
// spaces before a block tag even when the tag is not at the start of a line
// (`{{ x }} {% endfor %}` loses its space; Jinja keeps it, stripping only
// whitespace between a newline, or the template start, and the tag). It marks
// such tags with Jinja's own "+" modifier ({%+ ... %}), which disables
// lstrip_blocks for that tag alone, so the result is what Jinja renders.
func protectInlineBlocks(src string) string {
	dataStart := 0 // start of the current data segment (text outside tags)
	for i := 0; i < len(src); {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			break
		}
		i += j
		open := src[i+1]
		if open != '{' && open != '%' && open != '#' {
			i++
			continue
		}
		data := src[dataStart:i]
		atLineStart := dataStart == 0 || src[dataStart-1] == '\n'
		mid := data != "" && !atLineStart && !strings.Contains(data, "\n") &&
			strings.Trim(data, " \t") == ""
		var ctl byte
		if i+2 < len(src) {
			ctl = src[i+2]
		}
		end := tagEnd(src, i, open)
		if mid && open != '{' && ctl != '-' && ctl != '+' {
			src = src[:i+2] + "+" + src[i+2:]
			end++
		}
		if open == '%' && isRawStart(src[i:end]) {
			if k := strings.Index(src[end:], "endraw"); k >= 0 {
				if p := strings.LastIndex(src[:end+k], "{%"); p >= end {
					end = tagEnd(src, p, '%')
				}
			}
		}
		i, dataStart = end, end
	}
	return src
}

// tagEnd returns the index just past the tag opening at i ("{{", "{%" or
// "{#"), skipping string literals inside expressions; len(src) if unclosed.
func tagEnd(src string, i int, open byte) int {
	closer := "}}"
	switch open {
	case '%':
		closer = "%}"
	case '#':
		if k := strings.Index(src[i+2:], "#}"); k >= 0 {
			return i + 2 + k + 2
		}
		return len(src)
	}
	for k := i + 2; k < len(src); k++ {
		switch c := src[k]; {
		case c == '\'' || c == '"':
			for k++; k < len(src) && src[k] != c; k++ {
				if src[k] == '\\' {
					k++
				}
			}
		case strings.HasPrefix(src[k:], closer):
			return k + 2
		}
	}
	return len(src)
}

func isRawStart(tag string) bool {
	if len(tag) < 4 {
		return false
	}
	t := strings.Trim(tag[2:len(tag)-2], "-+ \t\n")
	return t == "raw"
}
