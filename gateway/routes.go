package gateway

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// publicRoutes is the whole public surface, in one place.
func publicRoutes(r *gin.Engine, p publicParts) error {
	lim, err := newLimiters(p.Config.RateLimits, p.LimitStore, p.respond, p.Log)
	if err != nil {
		return err
	}
	// The access log first: a panic, answered by recovery inside it,
	// still gets its line (with the id its error page carries).
	r.Use(accessLog(p.Log, "public", p.Config.Server.AccessLogSample, p.Observe), recovery(p.respond), securityHeaders(), bodyLimit(p.Config.Server.MaxBodyBytes))
	static := p.Views.Static()

	get(r, "/", lim.landing, handleLanding(p.sessions, p.flows, p.leads, p.forms, p.drafts, p.Funnel, p.Config.Attribution.ClickParamsOf, p.Now))
	r.POST("/apply", lim.apply, handleApply(p.sessions, p.flows, p.leads, p.forms, p.Submitter, p.next, p.respond,
		applySettings{wait: p.Config.Submission.Wait, pageURL: p.Config.Server.PublicURL, version: p.Views.Version,
			dedupeSecret: p.DedupeSecret, steps: p.drafts.steps, log: p.Log, now: p.Now}))
	// Back to the page a POST /apply answered (the form sent back with
	// its mistakes) asks GET /apply: the form is at "/", where its draft
	// is restored.
	get(r, "/apply", lim.landing, func(c *gin.Context) {
		noStore(c)
		seeOther(c, "/")
	})
	r.POST("/draft", lim.draft, handleDraft(p.drafts))
	r.POST("/draft/left", lim.draft, handleDraftLeft(p.drafts))
	get(r, "/status/:id", lim.status, handleStatus(p.sessions, p.flows, p.Store, p.forms, p.next, p.respond, p.Views, p.Now))
	get(r, "/api/v1/applications/:id", lim.status, handleApplicationJSON(p.sessions, p.flows, p.Store, p.next, p.respond))
	prefill := r.Group("/api/v1/prefill/:token",
		prefillAccess(p.Config.PrefillAPI.Keys, p.Config.PrefillAPI.AllowedOrigins, lim.prefillIP, lim.prefillBrowser, p.respond))
	prefill.OPTIONS("", func(*gin.Context) {}) // answered by prefillAccess
	get(prefill, "", checkToken(p.respond), lim.prefillToken, handlePrefill(p.flows, p.leads, p.respond, p.Funnel, p.Now))
	get(r, "/prefill.js", handlePrefillJS(static))
	get(r, "/api/v1/openapi.json", handleOpenAPI(p.Config.Server.PublicURL, p.respond, p.Log))
	get(r, "/healthz", handleHealthz())
	get(r, "/v.gif", lim.status, handleVisit(p.sessions, p.flows, p.Funnel))
	get(r, "/static/*file", handleStatic("/static/", static, "public, max-age=86400"))
	// The icon browsers ask for on every page, from the binary (a 404 in
	// the console costs Lighthouse's best-practices score).
	get(r, "/favicon.svg", handleIcon(static))
	get(r, "/favicon.ico", handleIcon(static))

	if p.Sandbox != nil {
		r.Any("/sandbox/*path", func(c *gin.Context) { p.Sandbox.ServeHTTP(idOnError{c.Writer, c}, c.Request) })
		// The sandbox's index typed without its slash (Gin's own
		// trailing-slash redirect is off: newEngine).
		get(r, "/sandbox", func(c *gin.Context) { c.Redirect(http.StatusFound, "/sandbox/") })
	}
	// A consumer's error page speaks their flow's language (without a
	// session, the default flow's).
	locale := func(c *gin.Context) string {
		sess, _ := p.sessions.Load(c.Request)
		return p.flows.Of(sess).Locale
	}
	r.NoRoute(func(c *gin.Context) { p.respond.fail(c, locale(c), errNotFound) })
	r.NoMethod(func(c *gin.Context) { p.respond.fail(c, locale(c), errNoMethod) })
	return nil
}

// adminRoutes is the whole operator surface, in one place.
func adminRoutes(r *gin.Engine, d AdminDeps, respond *responder) {
	r.Use(accessLog(d.Log, "admin", 1, nil), recovery(respond), securityHeaders(), func(c *gin.Context) {
		// Operator answers hold applications and counts: never stored.
		noStore(c)
	})
	get(r, "/healthz", handleHealthz())
	get(r, "/readyz", handleReadyz(d.Store, d.Breakers, d.Redis, d.Log))
	if d.Metrics != nil {
		// Scraped by Prometheus on the private admin listener, like
		// /healthz: no Basic auth, which scrapers rarely carry.
		get(r, "/metrics", gin.WrapH(d.Metrics))
	}
	admin := r.Group("/admin", adminAuth(d.Username, d.Password, d.Log, respond))
	get(admin, "/static/*file", handleStatic("/admin/static/", d.Views.Static(), ""))
	prices := func() pricing {
		p := pricing{currencies: d.Currencies}
		if d.Cost != nil {
			p.cost, p.known = d.Cost()
		}
		return p
	}
	view := adminView{names: d.Flows, publicURL: d.PublicURL, prices: prices, openings: d.BreakerOpenings}
	if d.FlowConfig != nil {
		// Already checked by the public listener's NewServer.
		view.flows, _ = NewFlows(d.FlowConfig)
	}
	get(admin, "", handleDashboard(d.Store, d.Views, view, respond))
	get(admin, "/:table", handleTableCSV(d.Store, view, respond))
	get(admin, "/applications/:id", handleAudit(d.Store, d.Views, respond, false))
	get(admin, "/api/applications/:id", handleAudit(d.Store, d.Views, respond, true))
	r.NoRoute(func(c *gin.Context) { respond.fail(c, "", errNotFound) })
	r.NoMethod(func(c *gin.Context) { respond.fail(c, "", errNoMethod) })
}

// get routes GET and HEAD to h: health checkers and link previewers ask
// with HEAD (net/http sends the headers and drops the body).
func get(r gin.IRoutes, path string, h ...gin.HandlerFunc) {
	r.GET(path, h...)
	r.HEAD(path, h...)
}

// handleHealthz handles "GET /healthz": 200 while the process serves.
func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) { c.String(http.StatusOK, "ok\n") }
}

// handleStatic handles "GET {prefix}*file" from the embedded assets,
// files only: a directory is not listed. A browser that accepts gzip gets
// the stylesheet and scripts compressed (once, at start): about a third of
// the bytes, fewer round trips on a phone's network before the form is
// painted. Pages are not compressed: they carry the CSRF token beside
// what the consumer typed, which is what BREACH reads through sizes.
func handleStatic(prefix string, static fs.FS, cacheControl string) gin.HandlerFunc {
	files := http.StripPrefix(prefix, http.FileServerFS(filesOnly{static}))
	gz := gzipAssets(static)
	return func(c *gin.Context) {
		if cacheControl != "" {
			// Asset URLs carry the version, so a long cache is safe.
			c.Header("Cache-Control", cacheControl)
		}
		name := strings.TrimPrefix(c.Request.URL.Path, prefix)
		b, ok := gz[name]
		w := idOnError{c.Writer, c}
		if !ok {
			files.ServeHTTP(w, c.Request)
			return
		}
		c.Header("Vary", "Accept-Encoding")
		if !acceptsGzip(c.GetHeader("Accept-Encoding")) {
			files.ServeHTTP(w, c.Request)
			return
		}
		c.Header("Content-Encoding", "gzip")
		http.ServeContent(w, c.Request, name, time.Time{}, bytes.NewReader(b))
	}
}

// gzipAssets compresses the text files of static (CSS, scripts, SVG), by
// their path; a file that would not shrink is left out.
func gzipAssets(static fs.FS) map[string][]byte {
	out := map[string][]byte{}
	fs.WalkDir(static, ".", func(name string, d fs.DirEntry, err error) error {
		switch path.Ext(name) {
		case ".css", ".js", ".svg":
		default:
			return err
		}
		raw, err := fs.ReadFile(static, name)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(raw)
		zw.Close()
		if buf.Len() < len(raw) {
			out[name] = buf.Bytes()
		}
		return nil
	})
	return out
}

// acceptsGzip reads an Accept-Encoding header: gzip (or *) listed without
// q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
		return q > 0
	}
	return false
}

// filesOnly is an fs.FS whose directories do not exist, so that a file
// server never lists one.
type filesOnly struct{ fs.FS }

func (f filesOnly) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := file.Stat(); err != nil || st.IsDir() {
		file.Close()
		return nil, fs.ErrNotExist
	}
	return file, nil
}

// handleIcon handles "GET /favicon.svg" (and /favicon.ico, asked for by
// browsers that did not read the page's link): the embedded icon.
func handleIcon(static fs.FS) gin.HandlerFunc {
	icon, _ := fs.ReadFile(static, "favicon.svg")
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=86400")
		c.Data(http.StatusOK, "image/svg+xml", icon)
	}
}
