# Two commands: `make demo` (the main job on the built-in lab) and `make test` (every check).
SHELL := /bin/bash
BIN := $(CURDIR)/.venv/bin
export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
INVENTORY := lab/inventory.yml
COLLECTION_LINK := .cache/collections/ansible_collections/scanready/windows

.PHONY: demo test venv collection dist lab-up lab-down lint galaxy-import sanity unit integration molecule matrix bench ee clean

venv:
	@scripts/bootstrap

# Playbooks and tests use the checkout itself as scanready.windows.
collection:
	@mkdir -p $(dir $(COLLECTION_LINK)) && ln -sfn $(CURDIR) $(COLLECTION_LINK)

# The tarball a user installs (docs/install.md): dist/scanready-windows-<version>.tar.gz. Needs only an
# ansible-galaxy: .venv's, else the one on PATH.
dist:
	ansible-galaxy collection build --force --output-path dist

lab-up: venv
	@lab/lab up

lab-down:
	@lab/lab down

demo: venv collection lab-up
	@scripts/demo

lint: venv
	ruff check plugins tests lab/lab lab/scanlab lab/soak bench bench/verify_fleet scripts/*.py
	mypy
	yamllint -s .
	ansible-lint --profile production --offline
	antsibull-docs lint-collection-docs --plugin-docs .

# Galaxy's upload check; not in lint until galaxy.yml has the collection's repository address, which Galaxy requires.
galaxy-import: venv
	scripts/galaxy-import

sanity: venv
	scripts/sanity

unit: venv collection
	pytest tests/unit

integration: venv collection lab-up
	pytest tests/integration

molecule: venv collection
	scripts/molecule-all

# The other leg of the supported versions (README, "Supported versions"): unit, sanity, the site playbook.
matrix: venv collection
	scripts/matrix

test: venv collection lint sanity unit integration molecule matrix

bench: venv collection
	bench/verify_fleet --targets 1000 --rtt-ms 20

# The execution environment's build context (building the image needs podman or docker).
ee: venv
	ansible-builder create

clean: lab-down
	rm -rf .venv .venv-importer .cache reports dist
