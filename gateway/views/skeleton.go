package views

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/leadgate/leadgate/gateway/form"
)

// A form page without errors is the same page for every consumer of a
// flow on a day but for its values, its CSRF token and its submission id.
// Rendering the whole form through html/template per request cost most of
// a landing (its escapers run by reflection, 3,700 allocations a page), so
// each form is rendered once per language, day and prefill state as a
// skeleton with markers where the varying parts go, split at the markers,
// and a request only writes the parts and its escaped values in between.
// A test renders both ways and compares them byte for byte.

// skeleton is a rendered form split at its slots.
type skeleton struct {
	parts []string // len(slots)+1 static pieces
	slots []slot
	size  int // the page as rendered with markers: what a buffer grows to at once
}

// slot is one varying piece: a value, a mark of checked/selected, a long
// option list, or a per-request secret.
type slot struct {
	kind  byte // 'v' value, 'c' checked, 's' selected/checked option, 'l' list, 'x' csrf, 'n' submission id
	field string
	value string // for 's': the option's value
	list  string // for 'l': the list's name
	// yesNo is for 's': the option is a radio of a yes/no question
	// (checked), not an option of a select (selected).
	yesNo bool
	// dflt is for 's': the field's default, chosen without a value.
	dflt string
}

type skeletons struct {
	marker string // random per process: no content can forge a slot
	mu     sync.Mutex
	m      map[skelKey]*skeleton
}

// skelKey is what a skeleton depends on, as a comparable value: a page
// is the form's (by its address: each experiment variant has its own
// copy of a form, form.Without, shown differently under the same name)
// in a language, on a day (the date fields' limits), in a layout, empty
// or prefilled. A struct rather than a formatted string: building the
// string was half of what writing a page from its skeleton cost.
type skelKey struct {
	form      *form.Form
	lang      string
	day       int32 // yyyymmdd in the flow's time zone
	steps     *form.Step
	nSteps    int
	onePage   bool
	headline  string
	links     ConsentLinks
	prefilled bool
	flow      string
}

// newSkelKey is the key of the page of f in l. A layout's steps are
// known by their backing array: a flow's layout is built from the same
// slice every time. Another slice with the same steps only costs
// another skeleton, and the map is bounded (get). Steps changed in place
// would be served from the old skeleton: a flow's steps are set once,
// when the flows are made (NewFlows), and never written after.
func newSkelKey(f *form.Form, l Layout, lang string, prefilled bool, now time.Time, loc *time.Location) skelKey {
	y, m, d := now.In(loc).Date()
	return skelKey{form: f, lang: lang, day: int32(y*10000 + int(m)*100 + d), steps: unsafe.SliceData(l.Steps), nSteps: len(l.Steps),
		onePage: l.OnePage, headline: l.Headline, links: l.Links, prefilled: prefilled, flow: l.Flow}
}

func newSkeletons() *skeletons {
	b := make([]byte, 12)
	rand.Read(b)
	return &skeletons{marker: "lg" + hex.EncodeToString(b), m: map[skelKey]*skeleton{}}
}

// attrEscaper escapes a value for a quoted attribute exactly as
// html/template does, so both renders are identical.
var attrEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// ServeForm answers 200 with the form page for vals (no errors, no
// alert) from the skeleton, written from a pooled buffer, or says false
// when it could not and the caller should render the page normally.
func (v *Views) ServeForm(w http.ResponseWriter, f *form.Form, l Layout, lang string, vals form.Values, prefilled bool, now time.Time, loc *time.Location, csrf, sub string) bool {
	page := pages.Get().(*bytes.Buffer)
	defer pages.Put(page)
	page.Reset()
	if !v.FastForm(page, f, l, lang, vals, prefilled, now, loc, csrf, sub) {
		return false
	}
	h := w.Header()
	h["Content-Type"] = htmlType
	h["Content-Length"] = []string{strconv.Itoa(page.Len())}
	w.WriteHeader(http.StatusOK)
	w.Write(page.Bytes())
	return true
}

// htmlType is the Content-Type of every page, shared read-only.
var htmlType = []string{"text/html; charset=utf-8"}

// FastForm writes the form page for vals (no errors, no alert), or says
// false when it could not and the caller should render normally.
func (v *Views) FastForm(b *bytes.Buffer, f *form.Form, l Layout, lang string, vals form.Values, prefilled bool, now time.Time, loc *time.Location, csrf, sub string) bool {
	sk := v.skel.get(newSkelKey(f, l, lang, prefilled, now, loc), func() (*skeleton, error) {
		return v.buildSkeleton(f, l, lang, prefilled, now, loc)
	})
	if sk == nil {
		return false
	}
	b.Grow(sk.size)
	for i, s := range sk.slots {
		b.WriteString(sk.parts[i])
		switch s.kind {
		case 'v':
			attrEscaper.WriteString(b, vals[s.field])
		case 'c':
			if form.Ticked(vals[s.field]) {
				b.WriteString(" checked")
			}
		case 's':
			// What the slot knows of its field spares a lookup per option.
			x := vals[s.field]
			if x == "" {
				x = s.dflt
			}
			if x == s.value {
				if s.yesNo {
					b.WriteString(" checked")
				} else {
					b.WriteString(" selected")
				}
			}
		case 'l':
			v.writeListOptions(b, s.list, lang, vals[s.field])
		case 'x':
			b.WriteString(csrf)
		case 'n':
			b.WriteString(sub)
		}
	}
	b.WriteString(sk.parts[len(sk.parts)-1])
	return true
}

// pages are the buffers form pages are written into, reused: a page is
// about 20 KB, and a fresh buffer grown to it per request was a tenth of
// a landing's time, in copying and in the garbage collector.
var pages = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *skeletons) get(key skelKey, build func() (*skeleton, error)) *skeleton {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sk, ok := s.m[key]; ok {
		return sk
	}
	// A skeleton that cannot be built is remembered as nil: its pages are
	// rendered the slow way, without trying again on every request.
	sk, err := build()
	if err != nil {
		sk = nil
	}
	if len(s.m) > 64 { // yesterday's skeletons go
		clear(s.m)
	}
	s.m[key] = sk
	return sk
}

// buildSkeleton renders the form with a marker in every slot, then splits
// it at the markers.
func (v *Views) buildSkeleton(f *form.Form, l Layout, lang string, prefilled bool, now time.Time, loc *time.Location) (*skeleton, error) {
	m := v.skel.marker
	markers := map[string]slot{}
	mark := func(s slot) string {
		// The closing Q keeps one marker from being the start of another
		// (housing_rent and housing_rent_room): names and values are lower case.
		name := m + string(s.kind) + s.field + "_" + s.value + "Q"
		markers[name] = s
		return name
	}
	p := v.FormView(f, l, lang, nil, nil, now, loc)
	p.Prefilled = prefilled
	p.CSRF, p.SubmissionID = mark(slot{kind: 'x'}), mark(slot{kind: 'n'})
	for i := range p.Sections {
		for j := range p.Sections[i].Fields {
			fv := &p.Sections[i].Fields[j]
			fd := f.Field(fv.Name)
			switch {
			case fd.Kind == form.Consent || fd.Kind == form.Check:
				fv.Mark = template.HTMLAttr(" " + mark(slot{kind: 'c', field: fv.Name}))
			case fd.List != "":
				fv.OptionsHTML = template.HTML(mark(slot{kind: 'l', field: fv.Name, list: fd.List}))
			case fd.Kind == form.Choice || fd.Kind == form.YesNo:
				for k := range fv.Options {
					fv.Options[k].Selected = false // a default is the slot's to write
					fv.Options[k].Mark = template.HTMLAttr(" " + mark(slot{kind: 's', field: fv.Name, value: fv.Options[k].Value,
						yesNo: fd.Kind == form.YesNo, dflt: fd.Default}))
				}
			default:
				fv.Value = mark(slot{kind: 'v', field: fv.Name})
			}
		}
	}
	var buf bytes.Buffer
	if err := v.pages["form"].ExecuteTemplate(&buf, "layout", p); err != nil {
		return nil, err
	}
	html := buf.String()
	type at struct {
		pos  int
		name string
	}
	var found []at
	for name := range markers {
		i := strings.Index(html, name)
		if i < 0 || strings.Count(html, name) != 1 {
			return nil, skeletonError("form skeleton: marker " + strings.TrimPrefix(name, m) + " found " + strconv.Itoa(strings.Count(html, name)) + " times")
		}
		found = append(found, at{i, name})
	}
	sort.Slice(found, func(a, b int) bool { return found[a].pos < found[b].pos })
	sk := &skeleton{size: len(html)}
	last := 0
	for _, a := range found {
		sk.parts = append(sk.parts, html[last:a.pos])
		sk.slots = append(sk.slots, markers[a.name])
		last = a.pos + len(a.name)
	}
	sk.parts = append(sk.parts, html[last:])
	// The marks of attributes were written with a leading space, which
	// belongs to what replaces them (" checked"), not to the page.
	for i, s := range sk.slots {
		if s.kind == 'c' || s.kind == 's' {
			sk.parts[i] = strings.TrimSuffix(sk.parts[i], " ")
		}
	}
	return sk, nil
}

type skeletonError string

func (e skeletonError) Error() string { return string(e) }

// writeListOptions writes a pre-rendered list with code selected, without
// copying the list (the countries are 20 KB).
func (v *Views) writeListOptions(b *bytes.Buffer, name, lang, code string) {
	list := v.lists[name][lang]
	if list == "" {
		list = v.lists[name]["en"]
	}
	if code != "" {
		needle := `<option value="` + template.HTMLEscapeString(code) + `">`
		if i := strings.Index(list, needle); i >= 0 {
			b.WriteString(list[:i])
			b.WriteString(needle[:len(needle)-1])
			b.WriteString(" selected>")
			b.WriteString(list[i+len(needle):])
			return
		}
	}
	b.WriteString(list)
}
