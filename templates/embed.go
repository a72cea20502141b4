// Package templates embeds the pages, their static assets and the message
// catalogs into the binary, so that a leadgate binary is the whole product.
package templates

import "embed"

// FS holds *.html, static/ and locales/.
//
//go:embed *.html static locales
var FS embed.FS
