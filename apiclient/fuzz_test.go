package apiclient

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzEpoch: the answer of a key upload gives an epoch or an error,
// without panicking; never 0, which callers keep for a key not yet
// published (a null or 0 answer used to read as 0); an epoch the API
// writes reads back.
func FuzzEpoch(f *testing.F) {
	for _, s := range []string{"1", "42\n", " 18446744073709551615 ", "null", "0", "-1", "1.0", "1e3", `"7"`, "{}"} {
		f.Add([]byte(s), uint64(7))
	}
	f.Fuzz(func(t *testing.T, b []byte, n uint64) {
		if e, err := Epoch(b); err == nil {
			if e == 0 {
				t.Fatalf("%q read as epoch 0", b)
			}
			if back, err := Epoch([]byte(strconv.FormatUint(e, 10))); err != nil || back != e {
				t.Fatalf("epoch %d does not read back: %v", e, err)
			}
		}
		w, err := json.Marshal(n)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Epoch(w)
		if n == 0 && err == nil || n != 0 && (err != nil || e != n) {
			t.Fatalf("the answer %s read as %d, %v", w, e, err)
		}
	})
}

// FuzzErrorBody: the body of an answer other than 2xx gives an *Error
// with the answer's status and a message, without panicking; the message
// of {"error": message} is that message.
func FuzzErrorBody(f *testing.F) {
	f.Add(409, []byte(`{"error":"key already exists"}`), "key already exists")
	f.Add(400, []byte(`{"error":""}`), "")
	f.Add(502, []byte("<html>Bad Gateway</html>\n"), "bad")
	f.Add(500, []byte(`{"error":7}`), " spaced ")
	f.Add(0, []byte{}, "")
	f.Fuzz(func(t *testing.T, status int, b []byte, msg string) {
		e := errorFromBody(status, b)
		var err error = e
		if e.Status != status || StatusOf(err) != status {
			t.Fatalf("status %d became %d", status, e.Status)
		}
		if e.Message == "" && strings.TrimSpace(string(b)) != "" {
			t.Fatalf("no message from the body %q", b)
		}
		if err.Error() == "" {
			t.Fatal("an empty error")
		}
		if !utf8.ValidString(msg) || msg == "" {
			return
		}
		body, merr := json.Marshal(map[string]string{"error": msg})
		if merr != nil {
			t.Fatal(merr)
		}
		if got := errorFromBody(status, body); got.Message != msg {
			t.Fatalf("the message %q came back as %q", msg, got.Message)
		}
	})
}
