#!/usr/bin/env bash
# Real parts for devplane's tests: a Postgres server, an sshd in front of the Docker engine, and
# the vibn-dev image built from a local Debian root filesystem (no registry is reachable).
#
#   scripts/test-env.sh [up]   install what is missing, start everything, write $STATE/env
#   scripts/test-env.sh down   stop Postgres and sshd (caches, keys and images stay)
#   scripts/test-env.sh status
#
# Runs as root on Debian 12. Idempotent: a second `up` only checks and starts what is stopped.
# Settings: DEVPLANE_TEST_STATE (default <repo>/.test-env), DEVPLANE_TEST_PG_PORT (55432),
# DEVPLANE_TEST_SSH_PORT (52222), DEVPLANE_TEST_DEBIAN_MIRROR (default: from the apt sources).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${DEVPLANE_TEST_STATE:-$ROOT/.test-env}
PG_PORT=${DEVPLANE_TEST_PG_PORT:-55432}
SSH_PORT=${DEVPLANE_TEST_SSH_PORT:-52222}
SSH_USER=devplane
SSHD_BIN=/usr/sbin/sshd
IMAGE=vibn-dev:latest
BASE_IMAGE=devplane-rootfs:bookworm
SUITE=bookworm
# Everything the vibn-dev Dockerfile needs, so that building it needs no network.
ROOTFS_PACKAGES=(bash ca-certificates coreutils curl findutils git iproute2 lsof openssh-client
                 passwd procps psmisc python3 tini util-linux)
# Bump when the way the root filesystem is made changes, to invalidate the cached tarball.
ROOTFS_RECIPE=1

START_SECONDS=$SECONDS
APT_UPDATED=0

log() { printf '[test-env %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Paths derived from STATE; call after STATE is made absolute.
set_paths() {
    PG_DATA=$STATE/pg
    PG_RUN=$STATE/pg-run
    LOGS=$STATE/logs
    SSH_DIR=$STATE/ssh
    SSHD_CONFIG=$SSH_DIR/sshd_config
    SSHD_PIDFILE=$SSH_DIR/sshd.pid
    HOST_KEY=$SSH_DIR/ssh_host_ed25519_key
    CLIENT_KEY=$SSH_DIR/id_ed25519
    KNOWN_HOSTS=$SSH_DIR/known_hosts
    CACHE=$STATE/cache
    ENV_FILE=$STATE/env
    DATABASE_URL=postgres://devplane:devplane@127.0.0.1:$PG_PORT/postgres
}

# ---------------------------------------------------------------------------------------------
# Packages

ensure_packages() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    log "installing Debian packages: ${missing[*]}"
    local apt_log=$LOGS/apt.log
    if ((APT_UPDATED == 0)); then
        apt-get update >>"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; die "apt-get update failed"; }
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" \
        >>"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; die "apt-get install failed (see $apt_log)"; }
}

pg_bin_dir() {
    local dirs
    dirs=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n1 || true)
    [[ -n $dirs ]] && dirname "$dirs"
}

install_packages() {
    command -v docker >/dev/null || die "docker CLI not found (the Docker engine is expected to run)"
    getent group docker >/dev/null || die "group 'docker' not found"
    local pkgs=(openssh-server openssh-client mmdebstrap)
    pg_bin_dir >/dev/null || pkgs+=(postgresql)
    ensure_packages "${pkgs[@]}"
    PG_BIN=$(pg_bin_dir) || die "PostgreSQL binaries not found under /usr/lib/postgresql"
}

# ---------------------------------------------------------------------------------------------
# Postgres

# fd 9 is the run lock: a daemon must not inherit it, or the next run would wait forever.
as_postgres() { (cd / && runuser -u postgres -- "$@" 9>&-); }

# Give USER search permission on every directory down to PATH (o+x only where it is missing).
ensure_traversable() {
    local user=$1 dir="" part parts
    IFS=/ read -ra parts <<<"${2#/}"
    for part in "${parts[@]}"; do
        [[ -z $part ]] && continue
        dir+=/$part
        if ! runuser -u "$user" -- test -x "$dir"; then
            log "granting o+x on $dir so that $user can reach $2"
            chmod o+x "$dir"
        fi
    done
}

pg_running() { [[ -f $PG_DATA/PG_VERSION ]] && as_postgres "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; }

pg_config_text() {
    cat <<EOF
# Written by scripts/test-env.sh (included from postgresql.conf). Tuned for test speed: the
# data is disposable, so durability is off.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

setup_postgres() {
    # The unix socket path must fit in sun_path (107 bytes).
    ((${#PG_RUN} + 17 <= 107)) || die "state dir path too long for a unix socket: $PG_RUN"
    ensure_traversable postgres "$STATE"
    install -d -o postgres -g postgres -m 0700 "$PG_DATA"
    install -d -o postgres -g postgres -m 0755 "$PG_RUN"
    [[ -f $LOGS/postgres.log ]] || install -o postgres -g postgres -m 0644 /dev/null "$LOGS/postgres.log"

    if [[ ! -f $PG_DATA/PG_VERSION ]]; then
        log "postgres: initdb in $PG_DATA"
        as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=peer --auth-host=scram-sha-256 >"$LOGS/initdb.log" 2>&1 \
            || { cat "$LOGS/initdb.log" >&2; die "initdb failed"; }
        echo "include 'devplane-test.conf'" >>"$PG_DATA/postgresql.conf"
    fi

    local conf=$PG_DATA/devplane-test.conf changed=0
    if [[ "$(cat "$conf" 2>/dev/null)" != "$(pg_config_text)" ]]; then
        pg_config_text >"$conf"
        chown postgres:postgres "$conf"
        changed=1
    fi

    if pg_running; then
        if ((changed)); then
            log "postgres: settings changed, restarting"
            as_postgres "$PG_BIN/pg_ctl" restart -D "$PG_DATA" -l "$LOGS/postgres.log" -m fast -w -t 60 >/dev/null
        else
            log "postgres: already running"
        fi
    else
        log "postgres: starting on 127.0.0.1:$PG_PORT"
        as_postgres "$PG_BIN/pg_ctl" start -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 >/dev/null \
            || { tail -n 20 "$LOGS/postgres.log" >&2; die "postgres did not start"; }
    fi

    local i
    for ((i = 0; i < 60; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 0.5
    done
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || die "postgres is not accepting connections"

    # Superuser: the tests create a database per test.
    as_postgres "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -d postgres <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'devplane') THEN CREATE ROLE devplane; END IF;
END $$;
ALTER ROLE devplane WITH LOGIN SUPERUSER PASSWORD 'devplane';
SQL
    "$PG_BIN/psql" -X -qAt "$DATABASE_URL" -c 'select 1' >/dev/null || die "cannot log in as devplane over TCP"
    log "postgres: ready ($DATABASE_URL)"
}

stop_postgres() {
    if [[ -n ${PG_BIN:-} ]] && pg_running; then
        log "postgres: stopping"
        as_postgres "$PG_BIN/pg_ctl" stop -D "$PG_DATA" -m fast -w -t 60 >/dev/null
    else
        log "postgres: not running"
    fi
}

# ---------------------------------------------------------------------------------------------
# sshd

setup_ssh_user() {
    if ! id "$SSH_USER" >/dev/null 2>&1; then
        log "creating system user $SSH_USER"
        # /bin/sh: sshd runs the login shell for every command, and bash would read rc files.
        useradd --system --user-group --create-home --home-dir "/home/$SSH_USER" \
            --shell /bin/sh --groups docker "$SSH_USER"
    fi
    id -nG "$SSH_USER" | tr ' ' '\n' | grep -qx docker || usermod -aG docker "$SSH_USER"
    [[ $(getent passwd "$SSH_USER" | cut -d: -f7) == /bin/sh ]] || usermod -s /bin/sh "$SSH_USER"
    # No usable password, but not "!": with UsePAM no, sshd refuses every login to an account
    # whose password field starts with "!" (locked), keys included.
    [[ $(getent shadow "$SSH_USER" | cut -d: -f2) == '*' ]] || usermod -p '*' "$SSH_USER"

    # authorized_keys lives in the home directory: StrictModes rejects any file below a group- or
    # world-writable directory, which a state dir under /tmp would be. Keys are appended, so that
    # several state dirs on one machine can coexist.
    local home ak pub
    home=$(getent passwd "$SSH_USER" | cut -d: -f6)
    AUTHORIZED_KEYS=$home/.ssh/authorized_keys
    chmod go-w "$home"
    install -d -o "$SSH_USER" -g "$SSH_USER" -m 0700 "$home/.ssh"
    ak=$AUTHORIZED_KEYS
    pub=$(cat "$CLIENT_KEY.pub")
    grep -qxF "$pub" "$ak" 2>/dev/null || printf '%s\n' "$pub" >>"$ak"
    chown "$SSH_USER:$SSH_USER" "$ak"
    chmod 0600 "$ak"
}

sshd_config_text() {
    cat <<EOF
# Written by scripts/test-env.sh. Tests may start a second sshd from this file with
# "-p PORT -o PidFile=FILE": Port must stay before ListenAddress, which names no port.
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $HOST_KEY
PidFile $SSHD_PIDFILE
AuthorizedKeysFile $AUTHORIZED_KEYS
StrictModes yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers $SSH_USER
MaxSessions 10
# Parallel tests open many connections at once; the default (10) drops some.
MaxStartups 100
AllowStreamLocalForwarding yes
AllowTcpForwarding yes
X11Forwarding no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
EOF
}

sshd_pid() {
    local pid
    pid=$(cat "$SSHD_PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    # Only ours: the pid must be an sshd started from this config.
    [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$SSHD_BIN" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-f $SSHD_CONFIG " || return 1
    echo "$pid"
}

ssh_check() {
    ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" \
        -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o ConnectTimeout=5 \
        -i "$CLIENT_KEY" -p "$SSH_PORT" "$SSH_USER@127.0.0.1" \
        "docker version --format '{{.Server.Version}}'"
}

setup_sshd() {
    install -d -m 0755 "$SSH_DIR"
    [[ -f $HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C devplane-test-host -f "$HOST_KEY"
    [[ -f $CLIENT_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C devplane-test-client -f "$CLIENT_KEY"
    chmod 0600 "$HOST_KEY" "$CLIENT_KEY"
    setup_ssh_user

    printf '[127.0.0.1]:%s %s\n' "$SSH_PORT" "$(cut -d' ' -f1,2 "$HOST_KEY.pub")" >"$KNOWN_HOSTS"

    local changed=0 pid
    if [[ "$(cat "$SSHD_CONFIG" 2>/dev/null)" != "$(sshd_config_text)" ]]; then
        sshd_config_text >"$SSHD_CONFIG"
        changed=1
    fi
    install -d -m 0755 /run/sshd # privilege separation directory
    "$SSHD_BIN" -t -f "$SSHD_CONFIG" || die "sshd rejects $SSHD_CONFIG"

    if pid=$(sshd_pid); then
        if ((changed)); then
            log "sshd: config changed, reloading (pid $pid)"
            kill -HUP "$pid" # sshd re-executes itself and rereads the config
            sleep 0.5
        else
            log "sshd: already running (pid $pid)"
        fi
    else
        log "sshd: starting on 127.0.0.1:$SSH_PORT"
        "$SSHD_BIN" -f "$SSHD_CONFIG" -E "$LOGS/sshd.log" 9>&-
    fi

    local i version=""
    for ((i = 0; i < 20; i++)); do
        version=$(ssh_check 2>/dev/null) && break
        sleep 0.25
    done
    if [[ -z $version ]]; then
        ssh_check >&2 || true
        tail -n 20 "$LOGS/sshd.log" >&2
        die "cannot reach Docker as $SSH_USER through sshd on port $SSH_PORT"
    fi
    log "sshd: $SSH_USER@127.0.0.1:$SSH_PORT reaches Docker $version"
}

stop_sshd() {
    local pid i
    if pid=$(sshd_pid); then
        log "sshd: stopping (pid $pid)"
        kill "$pid"
        for ((i = 0; i < 40; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        rm -f "$SSHD_PIDFILE"
    else
        log "sshd: not running"
    fi
}

# ---------------------------------------------------------------------------------------------
# Images

debian_mirror() {
    if [[ -n ${DEVPLANE_TEST_DEBIAN_MIRROR:-} ]]; then
        echo "$DEVPLANE_TEST_DEBIAN_MIRROR"
        return
    fi
    local uri
    # deb822 stanzas first, then one-line sources; skip the security archive.
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i !~ /security/) {print $i; exit}}')
    if [[ -z $uri ]]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk -v s="$SUITE" '$1 == "deb" { sub(/\[[^]]*\] */, ""); if ($3 == s) {print $2; exit} }')
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

image_label() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

setup_images() {
    local includes hash tarball
    includes=$(printf '%s\n' "${ROOTFS_PACKAGES[@]}" | sort -u | paste -sd, -)
    hash=$(printf 'recipe=%s variant=minbase suite=%s include=%s' "$ROOTFS_RECIPE" "$SUITE" "$includes" \
        | sha256sum | cut -c1-16)
    tarball=$CACHE/rootfs-$SUITE-$hash.tar

    if [[ $(image_label "$BASE_IMAGE" devplane.rootfs.hash) == "$hash" ]]; then
        log "images: $BASE_IMAGE is up to date ($hash)"
    else
        if [[ -f $tarball ]]; then
            log "images: using cached $tarball"
        else
            local mirror
            mirror=$(debian_mirror)
            log "images: mmdebstrap $SUITE from $mirror (include: $includes)"
            install -d -m 0755 "$CACHE"
            rm -f "$CACHE"/rootfs-"$SUITE"-*.tar "$tarball.partial"
            # Docs, man pages and translations are dropped, as in debian:*-slim.
            mmdebstrap --variant=minbase --include="$includes" --format=tar \
                --aptopt='Acquire::Retries "3"' \
                --dpkgopt='path-exclude=/usr/share/man/*' \
                --dpkgopt='path-exclude=/usr/share/doc/*' \
                --dpkgopt='path-include=/usr/share/doc/*/copyright' \
                --dpkgopt='path-exclude=/usr/share/locale/*' \
                "$SUITE" "$tarball.partial" "$mirror" >&2
            mv "$tarball.partial" "$tarball"
        fi
        log "images: docker import -> $BASE_IMAGE"
        docker import \
            --change "LABEL devplane.rootfs.hash=$hash" \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["bash"]' \
            --message "devplane test rootfs: mmdebstrap $SUITE minbase $includes" \
            "$tarball" "$BASE_IMAGE" >/dev/null
    fi

    # Rebuild only when the build context or the base image changed.
    local context=$ROOT/images/vibn-dev base_id build_hash
    base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")
    build_hash=$( (cd "$context" && find . -type f -print0 | sort -z | xargs -0 sha256sum; echo "$base_id") \
        | sha256sum | cut -c1-16)
    if [[ $(image_label "$IMAGE" devplane.build.hash) == "$build_hash" ]]; then
        log "images: $IMAGE is up to date ($build_hash)"
    else
        log "images: docker build $IMAGE"
        # The legacy builder: buildx is not installed on these machines.
        DOCKER_BUILDKIT=0 docker build -t "$IMAGE" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
            --label "devplane.build.hash=$build_hash" "$context" >"$LOGS/docker-build.log" 2>&1 \
            || { tail -n 30 "$LOGS/docker-build.log" >&2; die "docker build failed"; }
    fi

    # The dev containers' compose files join Coolify's network as an external one.
    if ! docker network inspect coolify >/dev/null 2>&1; then
        log "docker: creating network coolify"
        docker network create --attachable coolify >/dev/null
    fi
}

# ---------------------------------------------------------------------------------------------

write_env() {
    local tmp=$ENV_FILE.tmp
    {
        echo "# Written by scripts/test-env.sh; source it before running the tests."
        printf "export %s='%s'\n" \
            DEVPLANE_TEST_DATABASE_URL "$DATABASE_URL" \
            DEVPLANE_TEST_SSH_HOST 127.0.0.1 \
            DEVPLANE_TEST_SSH_PORT "$SSH_PORT" \
            DEVPLANE_TEST_SSH_USER "$SSH_USER" \
            DEVPLANE_TEST_SSH_KEY "$CLIENT_KEY" \
            DEVPLANE_TEST_SSH_KNOWN_HOSTS "$KNOWN_HOSTS" \
            DEVPLANE_TEST_SSHD_BIN "$SSHD_BIN" \
            DEVPLANE_TEST_SSHD_CONFIG "$SSHD_CONFIG" \
            DEVPLANE_TEST_SSHD_HOST_PUBKEY "$HOST_KEY.pub" \
            DEVPLANE_TEST_IMAGE "$IMAGE" \
            DEVPLANE_TEST_BASE_IMAGE "$BASE_IMAGE" \
            DEVPLANE_TEST_STATE "$STATE"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

cmd_up() {
    install -d -m 0755 "$STATE"
    STATE=$(cd "$STATE" && pwd)
    set_paths
    install -d -m 0755 "$LOGS"
    # One run at a time per state dir.
    exec 9>"$STATE/.lock"
    flock 9
    install_packages
    setup_postgres
    setup_sshd
    setup_images
    write_env
    log "up in $((SECONDS - START_SECONDS)) s; environment: source $ENV_FILE"
    echo "source $ENV_FILE"
}

cmd_down() {
    [[ -d $STATE ]] || { log "no state dir at $STATE"; return 0; }
    STATE=$(cd "$STATE" && pwd)
    set_paths
    exec 9>"$STATE/.lock"
    flock 9
    PG_BIN=$(pg_bin_dir) || PG_BIN=""
    stop_postgres
    stop_sshd
}

cmd_status() {
    local ok=0 pid
    [[ -d $STATE ]] || { echo "state dir $STATE does not exist"; return 1; }
    STATE=$(cd "$STATE" && pwd)
    set_paths
    PG_BIN=$(pg_bin_dir) || PG_BIN=""
    if [[ -n $PG_BIN ]] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
        echo "postgres: up on 127.0.0.1:$PG_PORT"
    else
        echo "postgres: down"; ok=1
    fi
    if pid=$(sshd_pid); then
        echo "sshd:     up on 127.0.0.1:$SSH_PORT (pid $pid)"
    else
        echo "sshd:     down"; ok=1
    fi
    local image
    for image in "$BASE_IMAGE" "$IMAGE"; do
        if docker image inspect "$image" >/dev/null 2>&1; then
            echo "image:    $image present"
        else
            echo "image:    $image missing"; ok=1
        fi
    done
    if docker network inspect coolify >/dev/null 2>&1; then
        echo "network:  coolify present"
    else
        echo "network:  coolify missing"; ok=1
    fi
    if [[ -f $ENV_FILE ]]; then echo "env:      $ENV_FILE"; else echo "env:      missing"; ok=1; fi
    return "$ok"
}

main() {
    [[ $EUID -eq 0 ]] || die "run as root (installs packages, starts sshd and Postgres)"
    case "${1:-up}" in
        up) cmd_up ;;
        down) cmd_down ;;
        status) cmd_status ;;
        -h | --help | help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' ;;
        *) die "unknown command '$1' (up, down, status)" ;;
    esac
}

main "$@"
