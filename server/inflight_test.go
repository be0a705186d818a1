package server

import (
	"testing"
	"time"
)

func TestInflight(t *testing.T) {
	var f inflight
	select {
	case <-f.Idle():
	default:
		t.Fatal("not idle at zero")
	}
	f.Add()
	f.Add()
	done, stop := make(chan struct{}), make(chan struct{})
	defer close(stop)
	go f.waitIdle(done, stop)
	f.Done()
	select {
	case <-done:
		t.Fatal("idle with one in flight")
	case <-time.After(10 * time.Millisecond):
	}
	f.Done()
	f.Add() // up again from zero: a waiter must not be confused
	f.Done()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("never idle")
	}
}
