package main

import (
	"fmt"
	"io"
	"net"
)

// localURL is the URL a person on this machine opens for a server bound
// to addr: a wildcard host (0.0.0.0, ::) becomes localhost.
func localURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// printBanner writes what a new user needs once the model is ready: where
// the chat page and the API docs are, and a request to paste.
func printBanner(w io.Writer, url, model string, builtin bool) {
	what := model
	if builtin {
		what += " (built in; pass --model FILE.gguf to serve another)"
	}
	body := `{"prompt": "Once upon a time", "max_tokens": 32}`
	fmt.Fprintf(w, "\nkiln %s is serving %s\n", version, what)
	fmt.Fprintf(w, "  chat in a browser   %s/\n", url)
	fmt.Fprintf(w, "  API docs            %s/docs\n", url)
	fmt.Fprintf(w, "  console chat        kiln chat --url %s\n", url)
	fmt.Fprintf(w, "  try                 curl %s/v1/completions -H 'Content-Type: application/json' -d %s\n\n", url, "'"+body+"'")
}
