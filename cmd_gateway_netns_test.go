//go:build linux

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netLab is a few hosts on one machine: each its own network namespace
// with one interface (eth0, 10.77.0.x/24) on a bridge in a hub namespace,
// as machines on one switch. Namespace names are unique per lab, and every
// namespace (with its interfaces) is deleted at the test's end, failed or
// not; processes started later are cleaned up first (t.Cleanup is LIFO).
type netLab struct {
	id    string
	hosts map[string]string // host -> its IP
}

// newNetLab builds the lab or skips the test, loudly, when this process
// may not (not root, no ip, no namespaces or veth/bridge support).
func newNetLab(t *testing.T, hosts ...string) *netLab {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skipf("SKIPPED: the multi-host failover test needs iproute2's ip: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skipf("SKIPPED: the multi-host failover test needs root for ip netns (euid %d)", os.Geteuid())
	}
	raw := make([]byte, 3)
	_, _ = rand.Read(raw)
	lab := &netLab{id: "kiln-" + hex.EncodeToString(raw), hosts: map[string]string{}}
	hub := lab.ns("hub")
	if out, err := exec.Command("ip", "netns", "add", hub).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: the multi-host failover test cannot create a network namespace here: %v: %s", err, out)
	}
	t.Cleanup(func() { lab.del(t, "hub") })
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := exec.Command("ip", "-n", hub, "link", "add", "br0", "type", "bridge").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: the multi-host failover test needs bridge devices (kernel module bridge): %v: %s", err, out)
	}
	run("-n", hub, "link", "set", "br0", "up")
	for i, h := range hosts {
		ns, ip := lab.ns(h), fmt.Sprintf("10.77.0.%d", i+2)
		run("netns", "add", ns)
		t.Cleanup(func() { lab.del(t, h) })
		port := fmt.Sprintf("p%d", i)
		if out, err := exec.Command("ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns).CombinedOutput(); err != nil {
			t.Skipf("SKIPPED: the multi-host failover test needs veth pairs (kernel module veth): %v: %s", err, out)
		}
		run("-n", hub, "link", "set", port, "master", "br0")
		run("-n", hub, "link", "set", port, "up")
		run("-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
		run("-n", ns, "link", "set", "eth0", "up")
		run("-n", ns, "link", "set", "lo", "up")
		lab.hosts[h] = ip
	}
	return lab
}

func (l *netLab) ns(host string) string { return l.id + "-" + host }

func (l *netLab) del(t *testing.T, host string) {
	if out, err := exec.Command("ip", "netns", "del", l.ns(host)).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v: %s", l.ns(host), err, out)
	}
}

// exec is the prefix that runs a command on host.
func (l *netLab) exec(host string) []string { return []string{"ip", "netns", "exec", l.ns(host)} }

// client is an HTTP client whose connections start on host: each socket
// is made on a thread that entered host's namespace, so it lives there.
// That thread is never handed back (the goroutine ends locked to it, and
// Go ends the thread), so no other goroutine ever runs in the namespace.
func (l *netLab) client(t *testing.T, host string) *http.Client {
	path := filepath.Join("/var/run/netns", l.ns(host))
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		out := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: see above
			f, err := os.Open(path)
			if err != nil {
				out <- result{nil, err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				out <- result{nil, fmt.Errorf("entering %s: %w", path, err)}
				return
			}
			d := net.Dialer{Timeout: 5 * time.Second}
			c, err := d.DialContext(ctx, network, addr)
			out <- result{c, err}
		}()
		r := <-out
		return r.c, r.err
	}
	tr := &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestGatewayFailoverNetns is the issue's multi-host test: two `kiln
// serve` replicas, the `kiln gateway` and the client on four hosts (network
// namespaces on one bridge); a replica is SIGKILLed under load
// (runFailover's checks). The client cannot reach loopback of any other
// host: everything crosses veth pairs and the bridge, as between machines.
func TestGatewayFailoverNetns(t *testing.T) {
	if _, err := os.Stat(storiesGGUF); err != nil {
		t.Skipf("no test model: %v", err)
	}
	start := time.Now()
	lab := newNetLab(t, "replica1", "replica2", "gateway", "client")
	client := lab.client(t, "client")
	serveOn := func(host string) *serveProcess {
		return startKiln(t, client, lab.exec(host), "serve",
			slices.Concat(serveProcessArgs, backendArgs, []string{"--host", lab.hosts[host], "--port", "8000"})...)
	}
	a, b := serveOn("replica1"), serveOn("replica2")
	gw := startKiln(t, client, lab.exec("gateway"), "gateway", gatewayArgs(lab.hosts["gateway"], 8080, a, b)...)
	// The lab is apart from the test's own namespace: the gateway does not
	// answer there (a connection may still succeed where the default route
	// leads to a proxy that accepts anything).
	outside := &http.Client{Timeout: time.Second}
	if resp, err := outside.Get(gw.url + "/health"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `"backends"`) {
			t.Fatal("the gateway answers from outside the lab: the namespaces are not isolated")
		}
	}
	runFailover(t, client, gw.url, a, b)
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("the test took %v, want < 60 s", d)
	}
}
