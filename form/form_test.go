package form_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chaffhq/chaff/crypto"
	"github.com/chaffhq/chaff/form"
)

func TestSignVerify(t *testing.T) {
	sk, _ := crypto.GenerateSigningKey()
	now := time.Date(2024, 1, 4, 17, 19, 1, 820879000, time.UTC)
	f, err := form.Sign(map[string]string{"journalist_id": "jane"}, sk, now, form.DefaultTTL)
	if err != nil {
		t.Fatal(err)
	}
	// The signed bytes end in upstream's "+00:00" timestamps.
	want := `{"journalist_id":"jane"}2024-01-04T17:19:01.820879+00:002024-01-04T18:19:01.820879+00:00`
	if got := string(f.SignedData()); got != want {
		t.Fatalf("signed data %q, want %q", got, want)
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"body":"eyJqb3VybmFsaXN0X2lkIjoiamFuZSJ9"`) || !strings.Contains(string(b), `"created_at":"2024-01-04T17:19:01.820879Z"`) {
		t.Fatalf("form JSON %s", b)
	}
	back, err := form.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	vk := sk.VerifyingKey()
	if err := back.Verify(vk, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var body struct {
		JournalistID string `json:"journalist_id"`
	}
	if err := back.Decode(&body); err != nil || body.JournalistID != "jane" {
		t.Fatalf("body %+v, %v", body, err)
	}
	if err := back.Verify(vk, now.Add(form.DefaultTTL+time.Second)); !errors.Is(err, form.ErrExpired) {
		t.Fatalf("expired form: %v", err)
	}
	other, _ := crypto.GenerateSigningKey()
	if err := back.Verify(other.VerifyingKey(), now); !errors.Is(err, form.ErrWrongSigner) {
		t.Fatalf("other key: %v", err)
	}
	// Any change to what is signed breaks the signature.
	for name, change := range map[string]func(f *form.Form){
		"body":            func(f *form.Form) { f.Body = bytes.Replace(f.Body, []byte("jane"), []byte("jake"), 1) },
		"created_at":      func(f *form.Form) { f.CreatedAt = f.CreatedAt.Add(time.Microsecond) },
		"not_valid_after": func(f *form.Form) { f.NotValidAfter = f.NotValidAfter.Add(time.Hour) },
		"signature":       func(f *form.Form) { f.Signature[5] ^= 4 },
	} {
		g, _ := form.Parse(b)
		change(g)
		if err := g.Verify(vk, now); !errors.Is(err, form.ErrBadSignature) {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	var strict struct{ X int }
	if err := back.Decode(&strict); err == nil {
		t.Fatal("body decoded into a type without its fields")
	}
}

func TestBadJSON(t *testing.T) {
	sk, _ := crypto.GenerateSigningKey()
	f, _ := form.Sign("x", sk, time.Now(), time.Hour)
	good, _ := json.Marshal(f)
	for name, in := range map[string]string{
		"unknown field": strings.Replace(string(good), "{", `{"timestamp":"x",`, 1),
		"missing field": strings.Replace(string(good), `"signing_pk"`, `"x_signing_pk"`, 1),
		"bad base64":    strings.Replace(string(good), `"body":"`, `"body":"!`, 1),
		"short key":     strings.Replace(string(good), `"signing_pk":"`, `"signing_pk":"00`, 1),
		"trailing":      string(good) + "{}",
	} {
		if _, err := form.Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted %s", name, in)
		}
	}
}

func FuzzParse(f *testing.F) {
	sk, _ := crypto.GenerateSigningKey()
	fm, _ := form.Sign(map[string]any{"status": map[string]string{"status": "AVAILABLE"}}, sk, time.Now(), time.Hour)
	b, _ := json.Marshal(fm)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		fm, err := form.Parse(b)
		if err != nil {
			return
		}
		_ = fm.Verify(sk.VerifyingKey(), time.Now())
		var v any
		_ = fm.Decode(&v)
		again, err := json.Marshal(fm)
		if err != nil {
			t.Fatal(err)
		}
		back, err := form.Parse(again)
		if err != nil || !bytes.Equal(back.Body, fm.Body) || back.Signature != fm.Signature || !back.CreatedAt.Equal(fm.CreatedAt) {
			t.Fatalf("form does not round-trip: %v\n%s", err, again)
		}
	})
}
