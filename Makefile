# The two commands of the README, plus the pieces they are made of.
.PHONY: run test build e2e deps fmt lint

run:    ## install what is missing, start PostgreSQL + libvirtd, build, serve on 127.0.0.1:18443
	bash scripts/run.sh

test:   ## install what is missing, then every test: clone (scripts/test-clone.sh), unit, integration, end-to-end
	bash scripts/test.sh

build:  ## release binary + precompressed dashboard assets
	bash scripts/build.sh

e2e:    ## only the Playwright tests (after `make build`)
	bash scripts/e2e.sh

deps:   ## only the installs
	bash scripts/deps.sh all

fmt:
	cargo fmt --all

lint:   ## clippy per package: never `app` with ssr and hydrate together
	cargo clippy -p server --all-targets -- -D warnings
	cargo clippy -p app --features ssr --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
