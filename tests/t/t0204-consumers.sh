#!/bin/bash
test_description='docker-compose, python-dotenv and sh read what sync wrote'
. "$(dirname "$0")/../lib.sh"

REG=design/worktrees/ports.json

# The interpreter docker-compose (v1, a Python program) runs with: the one
# that has its modules and PyYAML.
if test_have_prereq COMPOSE; then
	COMPOSE_PYTHON=$(sed -n "1s/^#! *//p" "$(command -v docker-compose)")
fi

# consumer_repo NAME BASE: repository NAME with ranges web, api and
# database of ten ports each from BASE, a committed .worktree-ports.ini
# and docker-compose.yml, and a linked worktree NAME-wt set up by sync.
# The file NAME.expect gets the variables the .env must give, built from
# the ports in the registry, sorted, one NAME=VALUE a line.
consumer_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" \
		"database:$(($2 + 20))-$(($2 + 29))" &&
	cat >"$1/.worktree-ports.ini" <<-\EOF &&
	[env]
	file = .env
	compose_project_name = true

	[service "web"]
	[service "api"]
	[service "database"]

	[vars]
	DATABASE_URL = postgres://app@127.0.0.1:${port:database}/app_${slug}
	API_URL = http://localhost:${port:api}/v1?a=1&b=2
	MIX = u_s.e-r:p/a@h%2B+x,y=z?q&r${port:web}
	EOF
	cat >"$1/docker-compose.yml" <<-\EOF &&
	version: "3"
	services:
	  web:
	    image: nginx
	    ports: ["${PORT_WEB}:80"]
	    environment:
	      DATABASE_URL: ${DATABASE_URL}
	      API_URL: ${API_URL}
	      MIX: ${MIX}
	EOF
	echo .env >"$1/.gitignore" &&
	git -C "$1" add .worktree-ports.ini docker-compose.yml .gitignore &&
	git -C "$1" commit -q -m "declare the ports" &&
	git -C "$1" worktree add -q "../$1-wt" 2>/dev/null &&
	git -C "$1-wt" worktree-ports sync >/dev/null &&
	registry_env "$1" "$1-wt" "$1-$1-wt" >"$1.expect"
}

# registry_env REPO WT PROJECT: the variables WT must get, from the
# ports the registry file of REPO holds for it.
registry_env() {
	local web api db
	web=$(json_get "$1/$REG" "allocations[worktree=$2,service=web].port") &&
	api=$(json_get "$1/$REG" "allocations[worktree=$2,service=api].port") &&
	db=$(json_get "$1/$REG" "allocations[worktree=$2,service=database].port") &&
	sort <<-EOF
	API_URL=http://localhost:$api/v1?a=1&b=2
	COMPOSE_PROJECT_NAME=$3
	DATABASE_URL=postgres://app@127.0.0.1:$db/app_$(echo "$2" | tr - _)
	MIX=u_s.e-r:p/a@h%2B+x,y=z?q&r$web
	PORT_API=$api
	PORT_DATABASE=$db
	PORT_WEB=$web
	EOF
}

# NAMES: the variables the consumers print.
NAMES="API_URL COMPOSE_PROJECT_NAME DATABASE_URL MIX PORT_API PORT_DATABASE PORT_WEB"

# print_vars: print the NAMES from the environment, NAME=VALUE a line.
print_vars() {
	local n
	for n in $NAMES; do
		printf "%s=%s\n" "$n" "$(printenv "$n")"
	done
}

test_expect_success COMPOSE 'docker-compose config resolves the registry ports' '
	consumer_repo c1 19300 &&
	web=$(json_get c1/$REG "allocations[worktree=c1-wt,service=web].port") &&
	(cd c1-wt && env -u PORT_WEB -u DATABASE_URL -u API_URL -u MIX \
		docker-compose config) >config.yml &&
	$COMPOSE_PYTHON - config.yml >actual <<-\EOF &&
	import sys, yaml
	web = yaml.safe_load(open(sys.argv[1]))["services"]["web"]
	for p in web["ports"]:
	    if isinstance(p, dict):
	        print("port %s:%s" % (p["published"], p["target"]))
	    else:
	        print("port %s" % p)
	for k, v in sorted(web["environment"].items()):
	    print("%s=%s" % (k, v))
	EOF
	{
		echo "port $web:80" &&
		grep -e "^API_URL=" -e "^DATABASE_URL=" -e "^MIX=" c1.expect
	} >expect &&
	test_cmp expect actual
'

test_expect_success COMPOSE 'docker-compose takes its project name from .env' '
	consumer_repo c2 19330 &&
	git -C c2 worktree add -q ../c2-other 2>/dev/null &&
	git -C c2-other worktree-ports sync >/dev/null &&
	for wt in c2-wt c2-other; do
		(cd $wt && env -u COMPOSE_PROJECT_NAME $COMPOSE_PYTHON -c "
from compose.cli.command import get_project_name
from compose.config.environment import Environment
print(get_project_name(\".\", environment=Environment.from_env_file(\".\")))"
		) || exit 1
	done >actual &&
	printf "%s\n" c2-c2-wt c2-c2-other >expect &&
	test_cmp expect actual
'

test_expect_success DOTENV 'python-dotenv reads the registry values' '
	consumer_repo c3 19360 &&
	python3 - c3-wt/.env >actual <<-\EOF &&
	import sys
	from dotenv import dotenv_values
	for k, v in sorted(dotenv_values(sys.argv[1]).items()):
	    print("%s=%s" % (k, v))
	EOF
	test_cmp c3.expect actual
'

test_expect_success 'sh reads the registry values with set -a' '
	consumer_repo c4 19390 &&
	(cd c4-wt && env -i PATH="$PATH" NAMES="$NAMES" sh -c "
		set -a && . ./.env && set +a &&
		for n in \$NAMES; do
			printf \"%s=%s\n\" \"\$n\" \"\$(printenv \"\$n\")\"
		done") >actual &&
	test_cmp c4.expect actual
'

test_expect_success 'eval of env --format sh gives the same values' '
	consumer_repo c5 19420 &&
	(
		unset $NAMES &&
		cd c5-wt &&
		git worktree-ports env --format sh >../c5.sh &&
		eval "$(cat ../c5.sh)" &&
		print_vars
	) >actual &&
	test_cmp c5.expect actual &&
	git -C c5-wt worktree-ports env >env.dotenv &&
	env_block vars c5-wt/.env >block &&
	test_cmp block env.dotenv
'

test_expect_success DOTENV 'python-dotenv reads a CRLF .env the same' '
	consumer_repo c6 19450 &&
	rm c6-wt/.env &&
	printf "# windows\r\nOTHER=1\r\n" >c6-wt/.env &&
	git -C c6-wt worktree-ports sync >/dev/null &&
	cr=$(printf "\r") &&
	test "$(grep -c "$cr\$" c6-wt/.env)" = "$(wc -l <c6-wt/.env)" &&
	python3 - c6-wt/.env >actual <<-\EOF &&
	import sys
	from dotenv import dotenv_values
	for k, v in sorted(dotenv_values(sys.argv[1]).items()):
	    if k != "OTHER":
	        print("%s=%s" % (k, v))
	EOF
	test_cmp c6.expect actual
'

test_expect_success COMPOSE 'docker-compose reads a CRLF .env the same' '
	consumer_repo c7 19480 &&
	rm c7-wt/.env &&
	printf "# windows\r\nOTHER=1\r\n" >c7-wt/.env &&
	git -C c7-wt worktree-ports sync >/dev/null &&
	(cd c7-wt && env -u DATABASE_URL -u API_URL -u MIX docker-compose config) >config.yml &&
	$COMPOSE_PYTHON - config.yml >actual <<-\EOF &&
	import sys, yaml
	web = yaml.safe_load(open(sys.argv[1]))["services"]["web"]
	for k, v in sorted(web["environment"].items()):
	    print("%s=%s" % (k, v))
	EOF
	grep -e "^API_URL=" -e "^DATABASE_URL=" -e "^MIX=" c7.expect >expect &&
	test_cmp expect actual
'

test_done
