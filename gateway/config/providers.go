package config

import (
	"fmt"
	"reflect"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/leadgate/leadgate/providers"
	"github.com/leadgate/leadgate/providers/buyers"
	"github.com/leadgate/leadgate/providers/cashfin"
)

// Providers is the `providers:` block: one block per buyer of the table
// (providers/buyers), by name, each its own package's Config, and the
// CRM's.
type Providers struct {
	Buyers  map[string]buyers.Config
	Cashfin cashfin.Config
}

func newProviders() Providers {
	var p Providers
	p.complete()
	return p
}

// complete gives every buyer of the table a block, so that a Providers
// made elsewhere than by Default reads like one.
func (p *Providers) complete() {
	if p.Buyers == nil {
		p.Buyers = map[string]buyers.Config{}
	}
	for _, r := range buyers.All() {
		if p.Buyers[r.Name] == nil {
			p.Buyers[r.Name] = r.NewConfig()
		}
	}
}

// Buyer is the block of the buyer called name, nil for a name not in the
// table.
func (p *Providers) Buyer(name string) buyers.Config { return p.Buyers[name] }

// blockKey is a key of the providers block and its line, to name a key
// that is no provider as the decoder names any other unknown key.
type blockKey struct {
	name string
	line int
}

func (k *blockKey) UnmarshalYAML(n *yaml.Node) error {
	k.name, k.line = n.Value, n.Line
	return nil
}

// UnmarshalYAML decodes each block into its own package's Config. It
// takes yaml.v3's older form, whose unmarshal runs in the file's own
// decoder: a misspelt key inside a block is then refused, with its line,
// like anywhere else (a yaml.Node decodes without KnownFields).
func (p *Providers) UnmarshalYAML(unmarshal func(any) error) error {
	p.complete()
	var keys map[blockKey]yaml.Node
	if err := unmarshal(&keys); err != nil {
		return err
	}
	var unknown []blockKey
	for k := range keys {
		if _, ok := p.Buyers[k.name]; !ok && k.name != "cashfin" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.SortFunc(unknown, func(a, b blockKey) int { return a.line - b.line })
		te := &yaml.TypeError{}
		for _, k := range unknown {
			te.Errors = append(te.Errors, fmt.Sprintf("line %d: field %s not found in type config.Providers", k.line, k.name))
		}
		return te
	}
	return unmarshal(p.blocks().Addr().Interface())
}

// MarshalYAML writes the blocks in the table's order, the CRM's last.
func (p Providers) MarshalYAML() (any, error) {
	p.complete()
	return p.blocks().Interface(), nil
}

// blocks is a struct made for the table, with a field per block that
// points at p's own: decoding into it fills p's blocks in place.
func (p *Providers) blocks() reflect.Value {
	var fields []reflect.StructField
	var values []reflect.Value
	add := func(name string, block any) {
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("Block%d", len(fields)), Type: reflect.TypeOf(block),
			Tag: reflect.StructTag(`yaml:"` + name + `"`)})
		values = append(values, reflect.ValueOf(block))
	}
	for _, r := range buyers.All() {
		add(r.Name, p.Buyers[r.Name])
	}
	add("cashfin", &p.Cashfin)
	v := reflect.New(reflect.StructOf(fields)).Elem()
	for i, val := range values {
		v.Field(i).Set(val)
	}
	return v
}

// Redacted is a copy that is safe to log.
func (p *Providers) Redacted() Providers {
	p.complete()
	r := Providers{Buyers: map[string]buyers.Config{}, Cashfin: p.Cashfin.Redacted()}
	r.Cashfin.BaseURL = providers.RedactURL(r.Cashfin.BaseURL)
	for _, reg := range buyers.All() {
		b := reg.Redacted(p.Buyers[reg.Name])
		b.Common().BaseURL = providers.RedactURL(b.Common().BaseURL)
		r.Buyers[reg.Name] = b
	}
	return r
}
