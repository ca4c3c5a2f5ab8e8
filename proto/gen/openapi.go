// Package gen holds the code and the OpenAPI document generated from
// proto/sanzi; nothing here is written by hand but this file.
package gen

import _ "embed"

// OpenAPI is the generated OpenAPI (Swagger 2.0) document of every REST
// binding, served by each node at /openapi.json.
//
//go:embed sanzi.swagger.json
var OpenAPI []byte
