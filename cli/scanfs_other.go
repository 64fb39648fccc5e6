//go:build !linux

package cli

func pseudoFS(string) bool { return false }
