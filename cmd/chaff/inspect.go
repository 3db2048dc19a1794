package main

import (
	"fmt"
	"io"
)

func runInspect(args []string, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "usage: chaff inspect keys|dead-drops ...")
	return errUsage
}
