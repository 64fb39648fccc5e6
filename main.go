// keyden creates, reviews, rotates and deletes API keys from a terminal.
package main

import "keyden/internal/program"

func main() { program.Main(nil) }
