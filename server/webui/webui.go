// Package webui is the chat page kiln serves at / : plain HTML, CSS and
// JavaScript embedded in the binary (no CDN, no build step). The page is a
// client of the public API only (/v1/models, /v1/chat/completions with
// stream), so anything it does a user can do with curl.
package webui

import (
	"embed"
	"mime"
	"path"
)

//go:embed assets
var assets embed.FS

// Index is the page served at /.
const Index = "index.html"

// File returns the named asset (a base name such as "app.js") and its
// content type; ok is false for a name that is not one of the page's files.
func File(name string) (body []byte, contentType string, ok bool) {
	if name == "" || path.Base(name) != name {
		return nil, "", false
	}
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		return nil, "", false
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	return b, ct, true
}

// Names lists the page's files.
func Names() []string {
	entries, _ := assets.ReadDir("assets")
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
