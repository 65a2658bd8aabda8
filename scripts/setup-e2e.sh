#!/usr/bin/env bash
# Installs what the end-to-end suite (test/e2e/, scripts/run-e2e.mjs) needs, from Debian and the npm
# registry only, and caches code-server in .cache/code-server/ (ignored by git) so a second run is a
# few seconds. Idempotent: it re-installs only what is missing or was left half-done.
#
# code-server 4.100.3 is VS Code 1.100.3 on Node 20. A plain `npm install code-server` fails offline
# (postinstall wants --unsafe-perm, @vscode/ripgrep downloads from GitHub, node-pty runs npx
# node-gyp), so the install runs without scripts and then does each step itself
# (see ../shared/notes/vscode-offline.md).
set -euo pipefail
cd "$(dirname "$0")/.."

CS_VERSION="${CODE_SERVER_VERSION:-4.100.3}"
CACHE="$PWD/.cache/code-server"
STAMP="$CACHE/.installed-$CS_VERSION"

# Debian: Chromium (drives the UI), ripgrep (replaces @vscode/ripgrep's GitHub download),
# libkrb5-dev + build tools (kerberos / argon2 / node-pty native builds), fonts for screenshots.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
dpkg -s fonts-liberation >/dev/null 2>&1 || need+=(fonts-liberation)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# ${need[@]+…}: an empty array is "unbound" to set -u in older bash.
bash scripts/install-debian-packages.sh setup-e2e ${need[@]+"${need[@]}"}

if [ -f "$STAMP" ] && [ -f "$CACHE/node_modules/code-server/out/node/entry.js" ]; then
  echo "setup-e2e: code-server $CS_VERSION cached in $CACHE" >&2
  exit 0
fi

start=$(date +%s)
echo "setup-e2e: installing code-server $CS_VERSION into $CACHE (one-off, a few minutes)" >&2
rm -rf "$CACHE"
mkdir -p "$CACHE"
export npm_config_yes=true npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
# Debian's Python for node-gyp (pyenv's may lack distutils); node-gyp uses the Node headers npm has.
[ -x /usr/bin/python3 ] && export npm_config_python=/usr/bin/python3
(
  cd "$CACHE"
  printf '{ "name": "distillery-e2e-cache", "private": true }\n' > package.json
  npm install "code-server@$CS_VERSION" --ignore-scripts --no-audit --no-fund --loglevel=error
  npm rebuild argon2 --loglevel=error
  cd node_modules/code-server/lib/vscode
  npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg # its postinstall skips when bin/ exists
  npm rebuild --loglevel=error                                  # spdlog, node-pty, kerberos, watcher…
  rm -rf node_modules.asar && ln -s node_modules node_modules.asar
  cd extensions
  # Its postinstall lists every file it prunes: keep that in a log, show it only on failure.
  npm install --omit=dev --no-audit --no-fund --loglevel=error > "$CACHE/install-extensions.log" 2>&1 \
    || { tail -50 "$CACHE/install-extensions.log" >&2; exit 1; }
)
XDG_CONFIG_HOME="$CACHE/.xdg" node "$CACHE/node_modules/code-server/out/node/entry.js" --version >&2
touch "$STAMP"
echo "setup-e2e: code-server ready in $(( $(date +%s) - start )) s" >&2
