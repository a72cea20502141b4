module github.com/leadgate/leadgate

go 1.26.8

require (
	github.com/patrickmn/go-cache v2.1.0+incompatible
	github.com/sony/gobreaker/v2 v2.4.0
	golang.org/x/sync v0.24.0
)

require github.com/stretchr/testify v1.12.1 // indirect
