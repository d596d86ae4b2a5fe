module github.com/codat-migrate/codat/internal/foldgen

go 1.26.0

require (
	github.com/codat-migrate/codat v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	github.com/hashicorp/go-retryablehttp v0.7.8 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/text v0.37.0
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/codat-migrate/codat => ../..
