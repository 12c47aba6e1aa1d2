package dsl_test

import (
	"fmt"

	"github.com/storeflow/storeflow/dsl"
)

func ExampleLoad() {
	_, err := dsl.Load("welcome.yaml", []byte(`document:
  dsl: '1.0.3'
  namespace: shop
  name: welcome
  version: '1.0.0'
do:
  - greet:
      set:
        message: ${ "Welcome, " + .firstName }
      tiemout:
        after: PT1M
`))
	fmt.Println(err)
	// Output: welcome.yaml:10:7: unknown property "tiemout" in task "greet"; did you mean "timeout"? (at /do/0/greet/tiemout)
}
