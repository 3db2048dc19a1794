package journalist

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/chaffhq/chaff/keys"
)

//go:embed web
var webFS embed.FS

var pages = template.Must(template.ParseFS(webFS, "web/layout.html"))

// WebConfig configures the web UI.
type WebConfig struct {
	VaultPath string
	// IdleLock locks the vault after this long without a request.
	IdleLock time.Duration
	// SyncEvery and SendEvery are the background cadences while unlocked:
	// download dead drops; send one message (a queued reply, or cover).
	SyncEvery, SendEvery time.Duration
	Logger               *slog.Logger
	Now                  func() time.Time
}

// Web is the journalist's web UI: server-rendered pages, no scripts, for
// 127.0.0.1 only.
type Web struct {
	cfg WebConfig

	mu         sync.Mutex
	vault      *Vault
	session    string
	csrf       string
	lastActive time.Time
	loginCSRF  map[string]time.Time
	flash      string
}

// NewWeb returns the UI; Run drives its background work.
func NewWeb(cfg WebConfig) *Web {
	if cfg.IdleLock <= 0 {
		cfg.IdleLock = 10 * time.Minute
	}
	if cfg.SyncEvery <= 0 {
		cfg.SyncEvery = time.Minute
	}
	if cfg.SendEvery <= 0 {
		cfg.SendEvery = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Web{cfg: cfg, loginCSRF: map[string]time.Time{}}
}

func token() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Run syncs and sends on their cadences while the vault is unlocked, and
// locks it when idle, until ctx ends.
func (w *Web) Run(ctx context.Context) {
	syncT, sendT, idleT := time.NewTicker(w.cfg.SyncEvery), time.NewTicker(w.cfg.SendEvery), time.NewTicker(time.Second)
	defer syncT.Stop()
	defer sendT.Stop()
	defer idleT.Stop()
	for {
		select {
		case <-ctx.Done():
			w.lock()
			return
		case <-idleT.C:
			w.mu.Lock()
			idle := w.vault != nil && w.cfg.Now().Sub(w.lastActive) > w.cfg.IdleLock
			w.mu.Unlock()
			if idle {
				w.cfg.Logger.Info("vault locked after idle time")
				w.lock()
			}
		case <-syncT.C:
			if v := w.current(); v != nil {
				if _, err := v.Sync(ctx); err != nil {
					w.cfg.Logger.Warn("sync", "err", err)
				}
			}
		case <-sendT.C:
			if v := w.current(); v != nil {
				if _, err := v.SendOne(ctx); err != nil {
					w.cfg.Logger.Warn("send", "err", err)
				}
			}
		}
	}
}

func (w *Web) current() *Vault {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.vault
}

func (w *Web) lock() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.vault != nil {
		w.vault.Close()
	}
	w.vault, w.session, w.csrf = nil, "", ""
}

// Handler serves the UI.
func (w *Web) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static/app.css", func(rw http.ResponseWriter, r *http.Request) {
		b, _ := webFS.ReadFile("web/app.css")
		rw.Header().Set("Content-Type", "text/css; charset=utf-8")
		rw.Write(b)
	})
	mux.HandleFunc("GET /{$}", w.index)
	mux.HandleFunc("POST /unlock", w.unlock)
	mux.HandleFunc("POST /lock", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		w.lock()
		http.Redirect(rw, r, "/", http.StatusSeeOther)
	}))
	mux.HandleFunc("POST /sync", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		res, err := v.Sync(r.Context())
		if err != nil {
			w.setFlash("Sync failed: " + err.Error())
		} else {
			w.setFlash(syncWords(res))
		}
		http.Redirect(rw, r, "/", http.StatusSeeOther)
	}))
	mux.HandleFunc("GET /c/{id}", w.withSession(w.conversation))
	mux.HandleFunc("POST /c/{id}/reply", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		w.after(rw, r, v.Reply(r.Context(), r.PathValue("id"), r.PostFormValue("text")), "Your reply is queued: it leaves with the next send, like every cover message.")
	}))
	mux.HandleFunc("POST /c/{id}/handled", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		w.after(rw, r, v.SetHandled(r.PathValue("id"), r.PostFormValue("handled") == "true"), "")
	}))
	mux.HandleFunc("POST /c/{id}/handover", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		w.after(rw, r, v.Handover(r.Context(), r.PathValue("id"), r.PostFormValue("to")), "The handover is queued: the source will be told to write to "+r.PostFormValue("to")+".")
	}))
	return w.secure(mux)
}

func syncWords(r SyncResult) string {
	s := "Synced: " + itoa(r.Messages) + " new message(s) in " + itoa(r.DeadDrops) + " dead drop(s)."
	if r.Waiting != "" {
		s += " " + r.Waiting
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func (w *Web) setFlash(s string) { w.mu.Lock(); w.flash = s; w.mu.Unlock() }

func (w *Web) takeFlash() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.flash
	w.flash = ""
	return f
}

func (w *Web) after(rw http.ResponseWriter, r *http.Request, err error, ok string) {
	if err != nil {
		w.setFlash("That did not work: " + err.Error())
	} else if ok != "" {
		w.setFlash(ok)
	}
	http.Redirect(rw, r, "/c/"+url.PathEscape(r.PathValue("id")), http.StatusSeeOther)
}

// secure adds the headers every answer carries and refuses requests whose
// Host is not this machine (DNS rebinding).
func (w *Web) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if host != "127.0.0.1" && host != "localhost" && host != "::1" {
			http.Error(rw, "this UI answers on 127.0.0.1 only", http.StatusMisdirectedRequest)
			return
		}
		hd := rw.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h.ServeHTTP(rw, r)
	})
}

type page struct {
	Title, Journalist, CSRF, LoginCSRF, Flash, Error string
	Conversations                                    []Conversation
	C                                                Conversation
	Others                                           []keys.JournalistProfile
	Queued                                           int
}

func (w *Web) render(rw http.ResponseWriter, name string, p page) {
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(rw, name, p); err != nil {
		w.cfg.Logger.Error("rendering", "page", name, "err", err)
	}
}

// sessionOK checks the session cookie and, for POSTs, the CSRF token; it
// locks the vault when it has been idle too long.
func (w *Web) sessionOK(r *http.Request) (*Vault, string, bool) {
	c, err := r.Cookie("chaff_session")
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.vault == nil || err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(w.session)) != 1 {
		return nil, "", false
	}
	now := w.cfg.Now()
	if now.Sub(w.lastActive) > w.cfg.IdleLock {
		w.vault.Close()
		w.vault, w.session, w.csrf = nil, "", ""
		return nil, "", false
	}
	if r.Method == http.MethodPost && subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(w.csrf)) != 1 {
		return nil, "", false
	}
	w.lastActive = now
	return w.vault, w.csrf, true
}

func (w *Web) withSession(h func(http.ResponseWriter, *http.Request, *Vault)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
		v, _, ok := w.sessionOK(r)
		if !ok {
			if r.Method == http.MethodPost {
				http.Error(rw, "the session has ended or the form is stale: unlock again", http.StatusForbidden)
				return
			}
			http.Redirect(rw, r, "/", http.StatusSeeOther)
			return
		}
		h(rw, r, v)
	}
}

func (w *Web) index(rw http.ResponseWriter, r *http.Request) {
	v, csrf, ok := w.sessionOK(r)
	if !ok {
		w.unlockPage(rw, "")
		return
	}
	w.render(rw, "list", page{Title: "Conversations", Journalist: v.ID(), CSRF: csrf, Flash: w.takeFlash(), Conversations: v.Conversations(), Queued: v.Queued()})
}

func (w *Web) unlockPage(rw http.ResponseWriter, errMsg string) {
	t := token()
	w.mu.Lock()
	now := w.cfg.Now()
	for k, exp := range w.loginCSRF {
		if now.After(exp) {
			delete(w.loginCSRF, k)
		}
	}
	w.loginCSRF[t] = now.Add(15 * time.Minute)
	w.mu.Unlock()
	http.SetCookie(rw, &http.Cookie{Name: "chaff_login", Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.render(rw, "unlock", page{Title: "Unlock", LoginCSRF: t, Error: errMsg})
}

func (w *Web) unlock(rw http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(rw, r.Body, 64<<10)
	c, err := r.Cookie("chaff_login")
	form := r.PostFormValue("csrf")
	w.mu.Lock()
	exp, known := w.loginCSRF[form]
	delete(w.loginCSRF, form)
	w.mu.Unlock()
	if err != nil || !known || w.cfg.Now().After(exp) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		http.Error(rw, "the form is stale: reload the page", http.StatusForbidden)
		return
	}
	w.mu.Lock()
	if w.vault != nil { // unlocking again: let go of the open vault first
		w.vault.Close()
		w.vault, w.session, w.csrf = nil, "", ""
	}
	w.mu.Unlock()
	v, err := Open(w.cfg.VaultPath, r.PostFormValue("passphrase"))
	if errors.Is(err, ErrWrongPassphrase) {
		w.unlockPage(rw, "That passphrase does not open the vault.")
		return
	}
	if err != nil {
		w.unlockPage(rw, err.Error())
		return
	}
	w.mu.Lock()
	if w.vault != nil {
		w.vault.Close()
	}
	w.vault, w.session, w.csrf, w.lastActive = v, token(), token(), w.cfg.Now()
	session := w.session
	w.mu.Unlock()
	http.SetCookie(rw, &http.Cookie{Name: "chaff_session", Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

func (w *Web) conversation(rw http.ResponseWriter, r *http.Request, v *Vault) {
	c, err := v.Read(r.PathValue("id"))
	if err != nil {
		http.Error(rw, "no such conversation", http.StatusNotFound)
		return
	}
	_, csrf, _ := w.sessionOK(r)
	others, _ := v.Journalists(r.Context())
	w.render(rw, "conversation", page{Title: "Source " + c.ID, Journalist: v.ID(), CSRF: csrf, Flash: w.takeFlash(), C: c, Others: others})
}
