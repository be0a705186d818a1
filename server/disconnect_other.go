//go:build !linux

package server

import (
	"net"
	"time"
)

// hungUp cannot tell without reading off Linux: requests run to the end.
func hungUp(net.Conn) (hung, ok bool) { return false, false }

const disconnectPoll = time.Second
