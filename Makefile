GO ?= go
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: test fmt-check tidy-check vet staticcheck unit build fuzz mutation

test: fmt-check tidy-check vet staticcheck unit

build:
	$(GO) build ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# go.mod and go.sum must be what `go mod tidy` makes of them: a
# dependency marked indirect that is direct (or one no longer used) fails.
tidy-check:
	@$(GO) mod tidy -diff >/dev/null || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; $(GO) mod tidy -diff; exit 1; }

vet:
	$(GO) vet ./...

staticcheck:
	@test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 ./...

# Deliberate bugs, one at a time in a copy of the tree, each of which the
# tests of its package must catch (see mutation/main.go). Slow: not part
# of `make test`; rerun after big changes.
mutation:
	$(GO) run ./mutation
