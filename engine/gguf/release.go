package gguf

import "unsafe"

// ReleasePages tells the system this process no longer needs the pages of
// b, a view of the file's mapping (a tensor's data): the whole pages inside
// it leave the process's resident memory while staying in the page cache,
// shared and reclaimable, and fault back in if read again. A model whose
// matrices were copied into another layout at load releases their file
// pages this way, so it holds each weight once. It does nothing for a File
// that is not a mapping (OpenBytes, Parse, platforms without mmap) or for b
// outside its mapping.
func (f *File) ReleasePages(b []byte) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed || f.unmap == nil || len(b) == 0 || len(f.data) == 0 {
		return nil
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(f.data)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if p < lo || p+uintptr(len(b)) > lo+uintptr(len(f.data)) {
		return nil
	}
	return releasePages(b)
}
