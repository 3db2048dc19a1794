// Command testreport reads `go test -json` on standard input, writes the
// full text to the log file named by its argument, prints a summary (one
// line per package, the output of failed tests) and judges skips: a
// skipped test fails the run unless it skipped for want of the CoverDrop
// vectors. It exits 0 when nothing failed and every skip is of that kind,
// 3 when only such skips happened, and 1 otherwise.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// tailLines is how much of a package's output is shown when it failed
// outside its tests.
const tailLines = 80

const vectorsMissing = "CoverDrop test vectors not found"

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go test -json ./... | testreport LOGFILE")
		os.Exit(2)
	}
	logf, err := os.Create(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer logf.Close()
	output := map[string]*strings.Builder{} // package/test → its output
	// tail keeps each package's last lines whatever test they are filed
	// under: test2json files what a TestMain prints after the tests (a
	// goroutine-leak report, a timeout's stack) under the last test, so a
	// package that fails outside its tests is shown by its tail.
	tail := map[string][]string{}
	var failed, skipped []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(logf, sc.Text()) // build errors and the like
			fmt.Println(sc.Text())
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "build-output": // compiler errors, printed as they come
			logf.WriteString(e.Output)
			fmt.Print(e.Output)
		case "output":
			logf.WriteString(e.Output)
			if output[key] == nil {
				output[key] = &strings.Builder{}
			}
			output[key].WriteString(e.Output)
			if t := append(tail[e.Package], e.Output); len(t) > tailLines {
				tail[e.Package] = t[len(t)-tailLines:]
			} else {
				tail[e.Package] = t
			}
			if e.Test == "" && (strings.HasPrefix(e.Output, "ok") || strings.HasPrefix(e.Output, "FAIL") || strings.HasPrefix(e.Output, "?")) {
				fmt.Print(e.Output)
			}
		case "fail":
			if e.Test != "" {
				failed = append(failed, key)
			} else if output[key] != nil && !strings.Contains(output[key].String(), "--- FAIL") {
				failed = append(failed, key) // a package that failed outside its tests
				output[key] = &strings.Builder{}
				output[key].WriteString(strings.Join(tail[e.Package], ""))
			}
		case "skip":
			if e.Test != "" {
				skipped = append(skipped, key)
			}
		}
	}
	code := 0
	if len(failed) > 0 {
		fmt.Println("\nfailed:")
		for _, k := range failed {
			fmt.Printf("--- %s\n%s", k, output[k])
		}
		code = 1
	}
	sort.Strings(skipped)
	var vectors, other []string
	for _, k := range skipped {
		if strings.Contains(output[k].String(), vectorsMissing) {
			vectors = append(vectors, k)
		} else {
			other = append(other, k)
		}
	}
	if len(other) > 0 {
		fmt.Println("\ntests were skipped; a skipped test is a failed test here:")
		for _, k := range other {
			fmt.Printf("--- %s\n%s", k, output[k])
		}
		code = 1
	}
	if len(vectors) > 0 {
		fmt.Printf("\nWARNING: %d conformance tests skipped: the CoverDrop test vectors were not found.\n", len(vectors))
		fmt.Println("Set CHAFF_COVERDROP_DIR to a CoverDrop checkout (git clone https://github.com/guardian/coverdrop).")
		fmt.Println("CI sets CHAFF_REQUIRE_VECTORS=1, under which their absence is a failure.")
		if code == 0 {
			code = 3
		}
	}
	os.Exit(code)
}
