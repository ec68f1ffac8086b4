# kong-auth-sidecar — `make dev` runs the dev stack, `make test` runs every test. Both install what they need.
SHELL := /bin/bash
PLUGINS := token-issuer token-validator token-revocation
NODE := node

.PHONY: all install build docs format test dev bench soak profile clean redis realkong bench-tools shell-tools validate-config up down

all: build

# npm ci only when the lock file changed since the last install.
node_modules/.install-stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.install-stamp

build: install
	rm -rf dist
	npx tsc -p .
	mkdir -p dist/plugin-info
	for plugin in $(PLUGINS); do \
	  $(NODE) dist/lib/cli.js --dump-plugin-info $$plugin > dist/plugin-info/$$plugin.json; \
	  mkdir -p kong/schemas/$$plugin && $(NODE) dist/lib/cli.js --dump-lua-schema $$plugin > kong/schemas/$$plugin/schema.lua; \
	done

# The generated blocks of docs/ (spec/deploy/config-docs.test.ts fails when one is out of date):
# $(call write-block,FILE,NAME,FLAGS) puts the output of `cli.js FLAGS` between <!-- NAME:start --> and <!-- NAME:end --> of FILE.
write-block = $(NODE) dist/lib/cli.js $(3) > dist/$(2).md && \
  awk -v block=dist/$(2).md -v name=$(2) '$$0 == "<!-- " name ":end -->" { while ((getline line < block) > 0) print line; skip = 0 } \
    !skip { print } $$0 == "<!-- " name ":start -->" { skip = 1 }' $(1) > $(1).tmp && mv $(1).tmp $(1)

docs: build
	$(call write-block,docs/configuration.md,env-table,--dump-config-table)
	for plugin in $(PLUGINS); do $(call write-block,docs/configuration.md,$$plugin-fields,--dump-fields-table $$plugin); done

# Checks a declarative file's configs of our plugins as Kong would (decK does not): for users' CI.
validate-config: build
	$(NODE) dist/kong/stand-in/validate-config.js $(or $(FILE),kong.yml)

# Kong 3.x, Redis and the sidecar in Docker (needs a Docker engine).
up:
	docker compose -f docker/compose.yml up -d --build

down:
	docker compose -f docker/compose.yml down -v

# The tests start their own redis-server / redis-sentinel processes on free ports, and join clusters with redis-cli.
redis:
	@command -v redis-server >/dev/null && command -v redis-sentinel >/dev/null && command -v redis-cli >/dev/null || { \
	  echo "installing redis-server, redis-sentinel and redis-tools (Debian packages)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-sentinel redis-tools >/dev/null; }

# curl and jq run the README's examples against the dev stack (spec/dev/readme-curl.test.ts).
shell-tools:
	@command -v curl >/dev/null && command -v jq >/dev/null || { \
	  echo "installing curl and jq (Debian packages)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl jq >/dev/null; }

# Kong's own plugin-server Lua under Debian's nginx + ngx_lua, for the end-to-end tests (spec/realkong):
# the kit beside the repository; its Debian packages are installed when missing.
REALKONG_DIR ?= $(abspath ../shared/realkong)
export REALKONG_DIR
realkong:
	@test -x $(REALKONG_DIR)/run.sh || { echo "Kong's bridge kit not found at $(REALKONG_DIR) (set REALKONG_DIR)"; exit 1; }
	@command -v nginx >/dev/null && ls /usr/lib/nginx/modules/ngx_http_lua_module.so /usr/share/lua/5.1/resty/core.lua \
	  /usr/share/lua/5.1/resty/lrucache.lua /usr/share/lua/5.1/MessagePack.lua /usr/share/lua/5.1/dkjson.lua /usr/lib/*/lua/5.1/cjson.so >/dev/null 2>&1 || { \
	  echo "installing nginx, ngx_lua and Lua modules for $(REALKONG_DIR) (Debian packages)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) $(REALKONG_DIR)/run.sh install >/dev/null; }

# The end-to-end bench (bench/e2e.ts): wrk for the HTTP load, lua-luaossl for the in-process Lua gate's HMAC.
bench-tools: realkong
	@command -v wrk >/dev/null && test -f /usr/share/lua/5.1/openssl/hmac.lua || { \
	  echo "installing wrk and lua-luaossl (Debian packages)"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk lua-luaossl >/dev/null; }

# One formatter over the code (prettier, .prettierrc.json); make test fails on a file it would change.
FORMATTED := "{lib,plugins,spec,bench,kong}/**/*.{ts,cjs}"
format: install
	npx prettier --write --log-level warn $(FORMATTED)

test: build redis realkong bench-tools shell-tools
	npx prettier --check --log-level warn $(FORMATTED)
	$(NODE) --test --test-concurrency=2 $$(find dist/spec -name '*.test.js' | sort)

# Kong-like load on one core against the bare kong-pdk plugins and the floor, interleaved in one run;
# scenarios, fixed-rate latency, status port, memory after 1 M tokens; then HTTP load through Kong's own
# plugin-server bridge (the end-to-end part); the targets + bench/results/<date>.json.
bench: build redis bench-tools
	$(NODE) dist/bench/run.js

# RSS over 10 minutes at 2,000 tokens/s after 5 minutes of the same load (SOAK_SECONDS, SOAK_SETTLE_SECONDS); make bench prints the latest.
soak: build
	$(NODE) dist/bench/run.js --soak

# Our two plugins under the targets' load with --cpu-prof: the top costs per function and per module.
profile: build
	$(NODE) dist/bench/run.js --profile

dev: build
	$(NODE) dist/kong/stand-in/dev-stack.js

clean:
	rm -rf dist node_modules
