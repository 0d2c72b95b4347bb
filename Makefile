# The two commands of the README, plus the pieces they are made of.
.PHONY: run test build e2e deps fmt lint install uninstall

# `make install DESTDIR=/tmp/stage PREFIX=/usr` stages a package; without DESTDIR it installs here.
DESTDIR ?=
PREFIX ?= /usr/local

run:    ## install what is missing, start PostgreSQL + libvirtd, build, serve on 127.0.0.1:18443
	bash scripts/run.sh

test:   ## install what is missing, then every test: clone (scripts/test-clone.sh), unit, integration, end-to-end
	bash scripts/test.sh

build:  ## release binary + precompressed dashboard assets
	bash scripts/build.sh

e2e:    ## only the Playwright tests (after `make build`)
	bash scripts/e2e.sh

install:   ## as root: binary, assets, docs under PREFIX; /etc/limen/limen.toml (kept if present); /var/lib/limen; systemd unit; database (see scripts/install.sh)
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" bash scripts/install.sh

uninstall: ## removes what install put in place, never the VMs, their disks, limen.toml or the database
	DESTDIR="$(DESTDIR)" PREFIX="$(PREFIX)" bash scripts/uninstall.sh

deps:   ## only the installs
	bash scripts/deps.sh all

fmt:
	cargo fmt --all

lint:   ## clippy per package: never `app` with ssr and hydrate together
	cargo clippy -p server --all-targets -- -D warnings
	cargo clippy -p app --features ssr --all-targets -- -D warnings
	cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
