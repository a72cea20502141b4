package sandbox

import (
	"html/template"
	"net/http"
)

// The sandbox's terms and privacy pages, one per language, which the
// sandbox config's flows link their terms consent to (flows[].terms_url
// and privacy_url). They stand in for a lender's own pages: short,
// readable on a phone, and plain about being samples.

// legalPage is one sample page in one language.
type legalPage struct {
	Lang, Title, Lead, Back string
	Sections                []legalSection
}

type legalSection struct{ Heading, Text string }

var legalPages = map[string]map[string]legalPage{
	"terms": {
		"en": {Lang: "en", Title: "Terms of Use",
			Lead: "A sample page of the leadgate sandbox. A real deployment links the lender's own terms here (flows[].terms_url).",
			Back: "Close this tab to return to your application.",
			Sections: []legalSection{
				{"Who we are", "Sandbox Lending is an example lender. It makes no loans and sells nothing."},
				{"What you agree to", "That the details you give are true, and that lenders may check them to decide on your application."},
				{"Documents", "We send you documents and notices by email. You can ask for paper copies at any time."},
				{"Your choices", "You may withdraw your application before a lender accepts it."},
			}},
		"es": {Lang: "es", Title: "Términos y condiciones",
			Lead: "Una página de ejemplo del sandbox de leadgate. Un despliegue real enlaza aquí los términos del prestamista (flows[].terms_url).",
			Back: "Cierra esta pestaña para volver a tu solicitud.",
			Sections: []legalSection{
				{"Quiénes somos", "Sandbox Lending es un prestamista de ejemplo. No concede préstamos ni vende nada."},
				{"Qué aceptas", "Que los datos que nos das son ciertos y que los prestamistas pueden comprobarlos para estudiar tu solicitud."},
				{"Documentos", "Te enviamos los documentos y avisos por correo electrónico. Puedes pedir copias en papel cuando quieras."},
				{"Tus opciones", "Puedes retirar tu solicitud antes de que un prestamista la acepte."},
			}},
	},
	"privacy": {
		"en": {Lang: "en", Title: "Privacy Policy",
			Lead: "A sample page of the leadgate sandbox. A real deployment links the lender's own policy here (flows[].privacy_url).",
			Back: "Close this tab to return to your application.",
			Sections: []legalSection{
				{"What we collect", "What you type into the application, and when and from where you sent it."},
				{"Why", "To find a lender for your loan, and to keep proof of the consents you gave."},
				{"Who sees it", "Only the lenders your application is sent to, one at a time."},
				{"How long", "Until the retention period ends; then it is erased."},
			}},
		"es": {Lang: "es", Title: "Política de procesamiento de datos",
			Lead: "Una página de ejemplo del sandbox de leadgate. Un despliegue real enlaza aquí la política del prestamista (flows[].privacy_url).",
			Back: "Cierra esta pestaña para volver a tu solicitud.",
			Sections: []legalSection{
				{"Qué datos tratamos", "Lo que escribes en la solicitud, y cuándo y desde dónde la enviaste."},
				{"Para qué", "Para encontrar un prestamista para tu préstamo y guardar la prueba de los consentimientos que diste."},
				{"Quién los ve", "Solo los prestamistas a los que se envía tu solicitud, uno a uno."},
				{"Cuánto tiempo", "Hasta que termina el plazo de conservación; después se borran."},
			}},
	},
}

var legalTemplate = template.Must(template.New("legal").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Sandbox Lending</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header class="top"><span class="brand">Sandbox Lending</span></header>
<main id="main" class="legal"><h1>{{.Title}}</h1>
<p class="lead">{{.Lead}}</p>
{{range .Sections}}<h2>{{.Heading}}</h2>
<p>{{.Text}}</p>
{{end}}<p class="small">{{.Back}}</p></main></body></html>`))

// legal serves the sample page of kind ("terms" or "privacy") in the
// language of the path: /sandbox/terms/en, /sandbox/privacy/es.
func (s *Sandbox) legal(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page, ok := legalPages[kind][r.PathValue("lang")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		legalTemplate.Execute(w, page)
	}
}
