package journalist

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/chaffhq/chaff/keys"
	"github.com/chaffhq/chaff/mix"
)

//go:embed web
var webFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"count": count,
	"add":   func(a, b int) int { return a + b },
	// has reports whether a form field holds a value (a ticked box).
	"has": func(f url.Values, key, value string) bool { return slices.Contains(f[key], value) },
}).ParseFS(webFS, "web/*.html"))

// WebConfig configures the web UI.
type WebConfig struct {
	VaultPath string
	// IdleLock locks the vault after this long without a request.
	IdleLock time.Duration
	// SyncEvery and SendEvery are the background cadences while unlocked:
	// download dead drops; send one message (a queued reply, or cover).
	SyncEvery, SendEvery time.Duration
	// BurstSize is how many messages "Send a cover burst" sends: by
	// default the threshold of upstream's production journalist-to-user
	// mix, so that one burst fills it.
	BurstSize int
	// Location is the time zone the UI shows times in (time.Local by
	// default); the pages say which it is.
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// Web is the journalist's web UI: server-rendered pages, no scripts, for
// 127.0.0.1 only.
type Web struct {
	cfg    WebConfig
	logins loginTokens

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
	flash      notice
	lastSync   syncState
	// burst is the cover burst running in the background, or the last
	// one; stopBurst cancels a running one and burstDone closes when it
	// has stopped.
	burst     burstState
	stopBurst context.CancelFunc
	burstDone chan struct{}
}

// burstState is what the vault page says of the cover burst.
type burstState struct {
	Running bool
	// Stopping: the journalist asked it to stop, and it has not yet;
	// Stopped: it was stopped (or the vault locked).
	Stopping, Stopped bool
	Sent, Total       int
	Started, Done     time.Time
	Err               string
}

// notice is a one-time message on the next page: Err shows it in the
// error style.
type notice struct {
	Text string
	Err  bool
}

// syncState is what the last sync (background or asked for) found.
type syncState struct {
	At  time.Time
	Res SyncResult
	Err string
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
	if cfg.BurstSize <= 0 {
		cfg.BurstSize = mix.ProductionJ2U.ThresholdMin
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Web{cfg: cfg, logins: newLoginTokens(), syncNow: make(chan struct{}, 1)}
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
// Vault.verified). The exceptions are what the journalist asks for by
// name: "Sync now", a forced key rotation and a cover burst.
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

// sync runs one sync and keeps what it found for the pages; the vault's
// log gets the syncs that brought something or failed.
func (w *Web) sync(ctx context.Context) (SyncResult, error) {
	v := w.current()
	if v == nil {
		return SyncResult{}, errors.New("the vault is locked")
	}
	res, err := v.Sync(ctx)
	if err == nil {
		// Every sync, whatever is waiting: see CheckPublished.
		_, err = v.CheckPublished(ctx)
	}
	st := syncState{At: w.cfg.Now(), Res: res}
	if err != nil {
		w.cfg.Logger.Warn("sync", "err", err)
		st.Err = err.Error()
		v.Note("error", "sync failed: "+err.Error())
	} else if res.Messages > 0 {
		v.Log("sync", fmt.Sprintf("%s in %s", count(res.Messages, "new message", "new messages"), count(res.DeadDrops, "dead drop", "dead drops")))
	}
	w.mu.Lock()
	w.lastSync = st
	w.mu.Unlock()
	return res, err
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
	// A burst running in the background stops before the vault closes.
	w.mu.Lock()
	stop, done := w.stopBurst, w.burstDone
	w.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.burst = burstState{}
	if w.vault != nil {
		w.vault.Close()
	}
	w.vault, w.session, w.csrf = nil, "", ""
	w.lastSync = syncState{}
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
		res, err := w.sync(r.Context())
		if err != nil {
			w.setFlash("Sync failed: "+err.Error(), true)
		} else {
			w.setFlash(w.syncWords(res, v), false)
		}
		http.Redirect(rw, r, "/", http.StatusSeeOther)
	}))
	mux.HandleFunc("GET /c/{id}", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		w.conversation(rw, r, v, http.StatusOK, "", notice{})
	}))
	mux.HandleFunc("POST /c/{id}/reply", w.withSession(w.reply))
	mux.HandleFunc("POST /c/{id}/handled", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		handled := r.PostFormValue("handled") == "true"
		w.after(rw, r, v.SetHandled(r.PathValue("id"), handled), map[bool]string{true: "Marked handled.", false: "Marked not handled."}[handled])
	}))
	mux.HandleFunc("POST /c/{id}/mute", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		muted := r.PostFormValue("muted") == "true"
		w.after(rw, r, v.SetMuted(r.PathValue("id"), muted), map[bool]string{true: "Muted: this conversation now sorts below the others and shows no unread highlight.", false: "Unmuted."}[muted])
	}))
	mux.HandleFunc("POST /c/{id}/about", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		id := r.PathValue("id")
		err := v.SetAlias(id, r.PostFormValue("alias"))
		if err == nil {
			err = v.SetNotes(id, r.PostFormValue("notes"))
		}
		w.after(rw, r, err, "Saved the name and notes (kept only in the vault).")
	}))
	mux.HandleFunc("POST /c/{id}/expiry", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		i, err1 := strconv.Atoi(r.PostFormValue("index"))
		days, err2 := strconv.Atoi(r.PostFormValue("days"))
		if err1 != nil || err2 != nil {
			w.after(rw, r, errors.New("the expiry form was not filled in"), "")
			return
		}
		at := w.cfg.Now().Add(time.Duration(days) * 24 * time.Hour)
		w.after(rw, r, v.SetExpiry(r.PathValue("id"), i, at), "The message is now deleted on "+w.when(at)+".")
	}))
	mux.HandleFunc("POST /c/{id}/handover", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		to := r.PostFormValue("to")
		err := v.Handover(r.Context(), r.PathValue("id"), to)
		if err == nil {
			v.Log("handover", "handed a source over to "+to)
		}
		w.after(rw, r, err, "The handover is queued: the source will be told to write to "+w.names(v)[to]+" from now on.")
	}))
	mux.HandleFunc("GET /vault", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		w.vaultPage(rw, v, http.StatusOK, "")
	}))
	mux.HandleFunc("POST /vault/rotate", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		err := v.RotateNow(r.Context())
		if err != nil {
			v.Log("error", "forced key rotation failed: "+err.Error())
			w.setFlash("The key rotation failed: "+err.Error(), true)
		} else {
			w.setFlash("A new messaging key is published: sources' apps use it from their next key download.", false)
		}
		http.Redirect(rw, r, "/vault", http.StatusSeeOther)
	}))
	mux.HandleFunc("POST /vault/burst", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		if w.startBurst(v) {
			w.setFlash("Sending a burst of "+count(w.cfg.BurstSize, "message", "messages")+" in the background: what is queued leaves with it. This page follows it.", false)
		} else {
			w.setFlash("A cover burst is running already.", true)
		}
		http.Redirect(rw, r, "/vault", http.StatusSeeOther)
	}))
	mux.HandleFunc("POST /vault/burst/stop", w.withSession(func(rw http.ResponseWriter, r *http.Request, v *Vault) {
		if w.stopBurstNow() {
			w.setFlash("Stopping the burst: no more of it leaves. A reply in the message that was in flight stays queued and leaves with a later send (should the API have taken it already, the CoverNode's replay guard takes the second copy as cover).", false)
		} else {
			w.setFlash("No cover burst is running.", true)
		}
		http.Redirect(rw, r, "/vault", http.StatusSeeOther)
	}))
	mux.HandleFunc("POST /vault/backup", w.withSession(w.backup))
	return w.secure(mux)
}

// startBurst starts a cover burst of cfg.BurstSize messages in the
// background, unless one is running; the vault page shows its progress.
// Locking the vault stops it.
func (w *Web) startBurst(v *Vault) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.burst.Running {
		return false
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	w.burst = burstState{Running: true, Total: w.cfg.BurstSize, Started: w.cfg.Now()}
	w.stopBurst, w.burstDone = stop, done
	go func() {
		defer close(done)
		defer stop()
		_, err := v.Burst(ctx, w.cfg.BurstSize, func(sent int) {
			w.mu.Lock()
			w.burst.Sent = sent
			w.mu.Unlock()
		})
		if err != nil {
			w.cfg.Logger.Warn("cover burst", "err", err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		w.burst.Running, w.burst.Stopping, w.burst.Done = false, false, w.cfg.Now()
		switch {
		case errors.Is(err, context.Canceled):
			w.burst.Stopped = true
		case err != nil:
			w.burst.Err = err.Error()
		}
		w.stopBurst = nil
	}()
	return true
}

// stopBurstNow cancels a running burst and returns at once: the request
// in flight is abandoned (its context ends), so the burst stops without
// waiting for the API's answer; the vault page says when it has.
func (w *Web) stopBurstNow() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.burst.Running || w.stopBurst == nil {
		return false
	}
	w.stopBurst()
	w.burst.Stopping = true
	return true
}

// backup runs the vault page's backup forms: create (one share per
// colleague ticked), keep a share a colleague gave, release a kept share,
// restore. Paths are on this machine: the UI answers on loopback only,
// and every form carries the session's CSRF token.
func (w *Web) backup(rw http.ResponseWriter, r *http.Request, v *Vault) {
	f := r.PostFormValue
	var msg string
	var err error
	switch f("action") {
	case "create":
		contacts := r.PostForm["contact"]
		k, err1 := strconv.Atoi(f("threshold"))
		if err = err1; err != nil {
			err = errors.New("give the threshold as a number")
			break
		}
		var res BackupResult
		if res, err = CreateBackup(v, f("out"), len(contacts), k, contacts); err == nil {
			msg = fmt.Sprintf("Wrote %s and %s, one for each of %s (any %d restore it, with the backup admin): %s. Hand each colleague their share; they keep it in their vault before %s.",
				res.Backup, count(len(contacts), "share", "shares"), strings.Join(contacts, ", "), k, strings.Join(res.Shares, ", "), w.when(res.KeepBefore))
		}
	case "keep-share":
		var b []byte
		if b, err = ReadShareFile(f("share")); err == nil {
			var k KeptShare
			if k, err = v.KeepShare(b); err == nil {
				msg = fmt.Sprintf("Kept share %d of %s's backup in your vault: delete %s now.", k.X, k.Owner, f("share"))
			}
		}
	case "release-share":
		x, _ := strconv.Atoi(f("x"))
		var b []byte
		if b, err = v.ReleaseShare(f("backup"), x); err == nil {
			if err = WriteNewFile(f("out"), b); err == nil {
				msg = "Released the share into " + f("out") + ": only the backup admin's key opens it; hand it to them for the restore."
			}
		}
	case "restore":
		if err = RestoreBackupFiles(f("backup"), strings.Fields(f("shares")), f("admin"), f("vault")); err == nil {
			msg = "Restored the vault to " + f("vault") + ": it opens with its old passphrase (serve it with chaff journalist serve --vault " + f("vault") + ")."
		}
	default:
		err = errors.New("unknown backup action")
	}
	if err != nil {
		v.Log("error", "backup "+f("action")+" failed: "+err.Error())
		w.vaultPageForm(rw, v, http.StatusUnprocessableEntity, "The backup "+f("action")+" failed: "+err.Error(), r.PostForm)
		return
	}
	w.setFlash(msg, false)
	http.Redirect(rw, r, "/vault", http.StatusSeeOther)
}

// syncWords says what a sync found, and how that squares with what is
// unread (a background sync may have fetched the messages before).
func (w *Web) syncWords(r SyncResult, v *Vault) string {
	var s string
	if r.Messages == 0 {
		s = "Synced: no new messages since the last sync."
	} else {
		s = "Synced: " + count(r.Messages, "new message", "new messages") + " in " + count(r.DeadDrops, "dead drop", "dead drops") + "."
	}
	if r.Unverified > 0 {
		s += " Skipped " + count(r.Unverified, "dead drop", "dead drops") + " whose signature did not verify."
	}
	if r.Waiting != "" {
		s += " " + r.Waiting
	}
	if u, _ := unread(v.Conversations()); u > r.Messages {
		s += " " + count(u, "message is", "messages are") + " unread in all."
	}
	return s
}

// unread counts the unread messages and the conversations holding them.
func unread(cs []Conversation) (msgs, convs int) {
	for _, c := range cs {
		if c.Unread > 0 {
			msgs += c.Unread
			convs++
		}
	}
	return msgs, convs
}

func (w *Web) setFlash(s string, isErr bool) { w.mu.Lock(); w.flash = notice{s, isErr}; w.mu.Unlock() }

func (w *Web) takeFlash() notice {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := w.flash
	w.flash = notice{}
	return f
}

func (w *Web) after(rw http.ResponseWriter, r *http.Request, err error, ok string) {
	if err != nil {
		w.setFlash("That did not work: "+err.Error(), true)
	} else if ok != "" {
		w.setFlash(ok, false)
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

// page is what the templates get.
type page struct {
	Title, Journalist, CSRF, LoginCSRF, Error string
	Flash                                     notice
	// Zone says which time zone the page's times are in.
	Zone string
	// The list.
	Conversations       []Conversation
	Query               string
	Unread, UnreadConvs int
	Queued              int
	LastSync            syncState
	// A conversation.
	C           Conversation
	Draft       string
	DraftNotice notice
	Others      []keys.JournalistProfile
	Names       map[string]string
	// The vault page.
	Digests   Digests
	Protocol  string // the vault's protocol mode, in words
	Events    []LogEntry
	BurstSize int
	Kept      []KeptShare
	Burst     burstState
	// Form is a backup form that failed, to fill in again.
	Form url.Values
	// Limits the pages state.
	MaxReplyBytes, ExpiryDays, WarningDays int
	SendEvery, ReplyChars                  string
	ExpiryChoices                          []int
	// What the templates format times with.
	When   func(time.Time) string
	Soon   func(Message) bool
	SoonIn func(Conversation) int
}

// ReplyCharsGuide says how many characters of ordinary English prose fit
// in one reply once compressed: 805 to 1,049 in 3,000-character samples
// of this repository's prose documents (text that compresses worse, such
// as other scripts, fits fewer).
const ReplyCharsGuide = "800 to 1,000"

// newPage fills in what every page of an open vault carries.
func (w *Web) newPage(title string, v *Vault, csrf string) page {
	now := w.cfg.Now()
	return page{
		Title: title, Journalist: v.ID(), CSRF: csrf, Flash: w.takeFlash(), Zone: w.zone(),
		MaxReplyBytes: MaxReplyBytes, ReplyChars: ReplyCharsGuide,
		ExpiryDays: int(DefaultExpiry / (24 * time.Hour)), WarningDays: int(ExpiryWarning / (24 * time.Hour)),
		SendEvery: every(w.cfg.SendEvery), ExpiryChoices: []int{1, 3, 7, 14, 30, 90, 365},
		When:   w.when,
		Soon:   func(m Message) bool { return m.ExpiresSoon(now) },
		SoonIn: func(c Conversation) int { return c.ExpiringSoon(now) },
	}
}

// every says a send interval in words: "10 minutes", "hour".
func every(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d == time.Minute:
		return "minute"
	case d%time.Hour == 0:
		return count(int(d/time.Hour), "hour", "hours")
	case d%time.Minute == 0:
		return count(int(d/time.Minute), "minute", "minutes")
	}
	return d.String()
}

// when formats an instant in the UI's time zone, naming the zone.
func (w *Web) when(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(w.cfg.Location).Format("Mon 2 Jan 2006 15:04 MST")
}

// zone says in words which time zone the UI's times are in.
func (w *Web) zone() string {
	name, off := w.cfg.Now().In(w.cfg.Location).Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	loc := w.cfg.Location.String()
	if loc == "Local" {
		loc = "this computer's time zone"
	}
	if loc != name {
		loc += " (" + name + ")"
	}
	return fmt.Sprintf("Times are in %s, UTC%c%02d:%02d.", loc, sign, off/3600, off%3600/60)
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
	c, err := r.Cookie(cookieName("chaff_session", r))
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
		w.unlockPage(rw, r, http.StatusOK, "")
		return
	}
	p := w.newPage("Conversations", v, csrf)
	p.Query = r.URL.Query().Get("q")
	p.Conversations = v.Search(p.Query)
	p.Unread, p.UnreadConvs = unread(v.Conversations())
	p.Queued = v.Queued()
	w.mu.Lock()
	p.LastSync = w.lastSync
	w.mu.Unlock()
	w.render(rw, http.StatusOK, "list", p)
}

func (w *Web) unlockPage(rw http.ResponseWriter, r *http.Request, status int, errMsg string) {
	t := w.logins.issue(w.cfg.Now())
	http.SetCookie(rw, &http.Cookie{Name: cookieName("chaff_login", r), Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
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
	c, err := r.Cookie(cookieName("chaff_login", r))
	form := r.PostFormValue("csrf")
	if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 || !w.logins.valid(form, w.cfg.Now()) {
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
				w.sessionCookie(rw, r, session)
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
		w.unlockPage(rw, r, http.StatusUnauthorized, "That passphrase does not open the vault.")
		return
	case errors.Is(err, ErrInUse):
		w.unlockPage(rw, r, http.StatusConflict, err.Error())
		return
	case err != nil:
		w.unlockPage(rw, r, http.StatusInternalServerError, err.Error())
		return
	}
	v.Note("unlock", "unlocked in the web UI") // saved by the sync that follows
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
	w.sessionCookie(rw, r, session)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

// newSessionLocked starts a new session on the open vault, ending any
// other; it returns the session token.
func (w *Web) newSessionLocked() string {
	w.session, w.csrf, w.lastActive = token(), token(), w.cfg.Now()
	return w.session
}

func (w *Web) sessionCookie(rw http.ResponseWriter, r *http.Request, session string) {
	http.SetCookie(rw, &http.Cookie{Name: cookieName("chaff_session", r), Value: session, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// cookieName is a cookie's name for the UI on the port r came to.
// Browsers keep cookies by host, not by port, so two journalists' UIs on
// one machine (chaff up's demo serves four on 127.0.0.1) would otherwise
// share one session cookie: unlocking one would end the other's session.
func cookieName(base string, r *http.Request) string {
	if _, port, err := net.SplitHostPort(r.Host); err == nil && port != "" {
		return base + "_" + port
	}
	return base
}

// colleagues are the journalists the pages offer for a handover or a
// backup share: those readers' apps list, so neither a hidden canary
// (HIDDEN_FROM_UI) nor a journalist readers cannot see.
func colleagues(v *Vault) []keys.JournalistProfile {
	var out []keys.JournalistProfile
	others, _ := v.Journalists(context.Background())
	for _, o := range others {
		if o.Status == keys.StatusVisible || o.Status == "" {
			out = append(out, o)
		}
	}
	return out
}

// names maps journalist ids to display names, from the kept keys.
func (w *Web) names(v *Vault) map[string]string {
	out := map[string]string{}
	others, _ := v.Journalists(context.Background())
	for _, p := range others {
		out[p.ID] = p.DisplayName
	}
	return out
}

// conversation renders a conversation page; draft and its notice are a
// reply sent back to the journalist (too long, or only checked).
func (w *Web) conversation(rw http.ResponseWriter, r *http.Request, v *Vault, status int, draft string, dn notice) {
	c, err := v.Read(r.PathValue("id"))
	if err != nil {
		w.errorPage(rw, http.StatusNotFound, "There is no such conversation.")
		return
	}
	_, csrf, _ := w.sessionOK(r)
	p := w.newPage(c.Name(), v, csrf)
	p.C, p.Draft, p.DraftNotice = c, draft, dn
	p.Others = colleagues(v)
	p.Names = w.names(v)
	w.render(rw, status, "conversation", p)
}

// reply queues a reply, or, when it does not fit or the journalist only
// asked to check it, shows the page again with the text kept and the
// answer next to it.
func (w *Web) reply(rw http.ResponseWriter, r *http.Request, v *Vault) {
	text := r.PostFormValue("text")
	n := utf8.RuneCountInString(text)
	if over := ReplyOver(text); over > 0 {
		w.conversation(rw, r, v, http.StatusUnprocessableEntity, text, notice{Err: true, Text: fmt.Sprintf(
			"Not queued: this reply is %s too long to fit in one message (it has %d; cut %d from the end, or say it in fewer words). Your text is kept below.",
			count(over, "character", "characters"), n, over)})
		return
	}
	if r.PostFormValue("action") == "check" {
		w.conversation(rw, r, v, http.StatusOK, text, notice{Text: fmt.Sprintf("It fits: %s, not queued yet.", count(n, "character", "characters"))})
		return
	}
	if err := v.Reply(r.Context(), r.PathValue("id"), text); err != nil {
		w.conversation(rw, r, v, http.StatusUnprocessableEntity, text, notice{Err: true, Text: "Not queued: " + err.Error()})
		return
	}
	w.after(rw, r, nil, "Your reply is queued: it leaves with the next send (one every "+every(w.cfg.SendEvery)+"), in place of a cover message.")
}

// vaultPage renders the vault's operations, digests and log.
func (w *Web) vaultPage(rw http.ResponseWriter, v *Vault, status int, errMsg string) {
	w.vaultPageForm(rw, v, status, errMsg, nil)
}

// vaultPageForm is vaultPage with a backup form that failed filled in
// again as it was sent, so that nothing typed is lost.
func (w *Web) vaultPageForm(rw http.ResponseWriter, v *Vault, status int, errMsg string, form url.Values) {
	w.mu.Lock()
	csrf := w.csrf
	w.mu.Unlock()
	p := w.newPage("Vault", v, csrf)
	p.Error = errMsg
	p.Form = form
	p.Digests = v.KeyDigests()
	p.Protocol = protocolWords[v.Protocol()]
	p.Events = v.Events()
	p.BurstSize = w.cfg.BurstSize
	p.Queued = v.Queued()
	p.Kept = v.KeptShares()
	w.mu.Lock()
	p.Burst = w.burst
	w.mu.Unlock()
	p.Others = colleagues(v)
	w.render(rw, status, "vault", p)
}
