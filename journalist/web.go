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

	// unlockMu lets one unlock stretch a passphrase at a time: each runs
	// Argon2id over the vault's memory (256 MiB by default).
	unlockMu sync.Mutex
	// syncNow asks Run for a sync at once: sent when an unlock opens the
	// vault.
	syncNow chan struct{}

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
	return &Web{cfg: cfg, loginCSRF: map[string]time.Time{}, syncNow: make(chan struct{}, 1)}
}

func token() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Run syncs and sends on their cadences while the vault is unlocked, and
// locks it when idle, until ctx ends. It also syncs as soon as an unlock
// opens the vault, so that the published keys (which replies are sealed
// to) and new messages are there at once; from then on only the timers
// make requests, never what the journalist does in the UI (see
// Vault.verified). The one exception is "Sync now", a download the
// journalist asks for by name.
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
			w.sync(ctx)
		case <-w.syncNow:
			w.sync(ctx)
		case <-sendT.C:
			if v := w.current(); v != nil {
				if _, err := v.SendOne(ctx); err != nil {
					w.cfg.Logger.Warn("send", "err", err)
				}
			}
		}
	}
}

func (w *Web) sync(ctx context.Context) {
	if v := w.current(); v != nil {
		if _, err := v.Sync(ctx); err != nil {
			w.cfg.Logger.Warn("sync", "err", err)
		}
	}
}

// Unlocked reports whether a vault is open in the UI (and so sending on
// its cadence).
func (w *Web) Unlocked() bool { return w.current() != nil }

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
	if r.Unverified > 0 {
		s += " Skipped " + itoa(r.Unverified) + " dead drop(s) whose signature did not verify."
	}
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

func (w *Web) render(rw http.ResponseWriter, status int, name string, p page) {
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
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

// errorPage answers with a page that says what went wrong in plain words.
func (w *Web) errorPage(rw http.ResponseWriter, status int, msg string) {
	w.render(rw, status, "error", page{Title: http.StatusText(status), Error: msg})
}

// MaxFormBody caps every form the UI accepts. A reply is far smaller: it
// must fit in one fixed-size message.
const MaxFormBody = 64 << 10

// readForm reads a request's form, at most MaxFormBody bytes. It answers
// a larger one with 413 itself: cut short, the form would lose its CSRF
// token, and the answer would wrongly say that the session had ended.
func (w *Web) readForm(rw http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(rw, r.Body, MaxFormBody)
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		w.errorPage(rw, http.StatusRequestEntityTooLarge, "That was too long: the form carried more than 64 KiB, and a reply must fit in one fixed-size message. Nothing was saved or queued. Go back, shorten it and send it again.")
		return false
	case err != nil:
		w.errorPage(rw, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return false
	}
	return true
}

func (w *Web) withSession(h func(http.ResponseWriter, *http.Request, *Vault)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		if !w.readForm(rw, r) {
			return
		}
		v, _, ok := w.sessionOK(r)
		if !ok {
			if r.Method == http.MethodPost {
				w.errorPage(rw, http.StatusForbidden, "The session has ended or the form is stale: nothing was done. Unlock again and retry.")
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
		w.unlockPage(rw, http.StatusOK, "")
		return
	}
	w.render(rw, http.StatusOK, "list", page{Title: "Conversations", Journalist: v.ID(), CSRF: csrf, Flash: w.takeFlash(), Conversations: v.Conversations(), Queued: v.Queued()})
}

func (w *Web) unlockPage(rw http.ResponseWriter, status int, errMsg string) {
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
	w.render(rw, status, "unlock", page{Title: "Unlock", LoginCSRF: t, Error: errMsg})
}

// unlock opens the vault, or, when it is open already, starts a new
// session on it. A passphrase is checked before anything changes, so a
// wrong one (from anyone on this machine) leaves an unlocked session as it
// was.
func (w *Web) unlock(rw http.ResponseWriter, r *http.Request) {
	if !w.readForm(rw, r) {
		return
	}
	c, err := r.Cookie("chaff_login")
	form := r.PostFormValue("csrf")
	w.mu.Lock()
	exp, known := w.loginCSRF[form]
	delete(w.loginCSRF, form)
	w.mu.Unlock()
	if err != nil || !known || w.cfg.Now().After(exp) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
		w.errorPage(rw, http.StatusForbidden, "The unlock form is stale: reload the page and try again.")
		return
	}
	pass := r.PostFormValue("passphrase")
	w.unlockMu.Lock()
	defer w.unlockMu.Unlock()
	cur := w.current()
	if cur != nil {
		// The open vault holds the lock Open takes, so check the
		// passphrase against the file (at the full cost of the KDF, so
		// that guessing here is no cheaper than on a locked vault) and
		// keep the open vault.
		if err = checkPassphrase(w.cfg.VaultPath, pass); err == nil {
			w.mu.Lock()
			if w.vault == cur {
				session := w.newSessionLocked()
				w.mu.Unlock()
				w.sessionCookie(rw, session)
				http.Redirect(rw, r, "/", http.StatusSeeOther)
				return
			}
			// Locked (idle, or the lock button) while we checked: open it.
			w.mu.Unlock()
		}
	}
	var v *Vault
	if err == nil {
		v, err = Open(w.cfg.VaultPath, pass)
	}
	switch {
	case errors.Is(err, ErrWrongPassphrase):
		w.unlockPage(rw, http.StatusUnauthorized, "That passphrase does not open the vault.")
		return
	case errors.Is(err, ErrInUse):
		w.unlockPage(rw, http.StatusConflict, err.Error())
		return
	case err != nil:
		w.unlockPage(rw, http.StatusInternalServerError, err.Error())
		return
	}
	w.mu.Lock()
	if w.vault != nil { // cannot happen while unlocks take turns; never leak a lock
		w.vault.Close()
	}
	w.vault = v
	session := w.newSessionLocked()
	w.mu.Unlock()
	select {
	case w.syncNow <- struct{}{}:
	default:
	}
	w.sessionCookie(rw, session)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

// newSessionLocked starts a new session on the open vault, ending any
// other; it returns the session token.
func (w *Web) newSessionLocked() string {
	w.session, w.csrf, w.lastActive = token(), token(), w.cfg.Now()
	return w.session
}

func (w *Web) sessionCookie(rw http.ResponseWriter, session string) {
	http.SetCookie(rw, &http.Cookie{Name: "chaff_session", Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func (w *Web) conversation(rw http.ResponseWriter, r *http.Request, v *Vault) {
	c, err := v.Read(r.PathValue("id"))
	if err != nil {
		w.errorPage(rw, http.StatusNotFound, "There is no such conversation.")
		return
	}
	_, csrf, _ := w.sessionOK(r)
	others, _ := v.Journalists(r.Context())
	w.render(rw, http.StatusOK, "conversation", page{Title: "Source " + c.ID, Journalist: v.ID(), CSRF: csrf, Flash: w.takeFlash(), C: c, Others: others})
}
