//go:build !linux

package main

import "errors"

// pinCPUs is unsupported off Linux: devices are validated but not pinned.
func pinCPUs(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	return errors.New("CPU pinning is only supported on Linux")
}

// allowedCPUs is unknown off Linux: replicas' pools are not pinned.
func allowedCPUs() ([]int, error) {
	return nil, errors.New("CPU affinity is only supported on Linux")
}
