#!/bin/bash
# flume-ng for sluice: Flume's command line, run by sluice, so that init scripts and runbooks
# written for Flume work unchanged:
#
#   flume-ng agent -n a1 -c conf -f conf/a1.properties -Dflume.root.logger=INFO,console
#   flume-ng avro-client -H localhost -p 41414 -F /var/log/app.log -R headers.properties
#   flume-ng version | help
#
# A script rather than a program, because Flume's flume-ng is one and sources
# <conf>/flume-env.sh: production installs set JAVA_OPTS there (with -Dflume.monitoring.*
# switches) and export the environment variables a config's ${VAR} substitution reads. Sourcing
# it here does exactly what Flume does; a compiled program would have to start a shell for it.
# Everything else is rewriting arguments: Flume's global options are taken here, Java's are
# ignored (one info line lists them), the rest goes to `sluice agent` or `sluice avro-client`
# (the sluice next to this script, else the one on PATH), which take Flume's agent options
# (-f several times, -u, --conf-user, --conf-password, -i, -b, -z, -p) under the same names.

info() { echo "Info: $*" >&2; }
warn() { echo "Warning: $*" >&2; }
error() {
  echo "Error: $1" >&2
  [ -n "${2:-}" ] && exit "$2"
}

display_help() {
  cat <<EOF
Usage: $0 <command> [options]...

commands:
  help                      display this help text
  agent                     run a Flume agent (sluice agent)
  avro-client               run an avro Flume client (sluice avro-client)
  version                   show the version (sluice version)

global options:
  --conf,-c <conf>          use configs in <conf> directory (its flume-env.sh is sourced;
                            a relative --conf-file is also looked up there)
  --classpath,-C <cp>       accepted and ignored: sluice loads no Java classes
  --dryrun,-d               do not actually start, just print the command
  --plugins-path <dirs>     colon-separated list of plugins.d directories (sluice plugins)
  -Dproperty=value          Flume's switches (flume.root.logger, flume.monitoring.*,
                            flume.log.dir, flume.log.file) and config overrides
                            (a1.channels.c1.capacity=5000); other Java system properties
                            are ignored
  -Xproperty=value          accepted and ignored (a Java -X option)

agent options:
  --name,-n <name>          the name of this agent (required)
  --conf-file,-f <file>     specify a config file; may repeat (merged in order)
  --conf-uri,-u <uri>       specify a config URI (http://, https://, file://); may repeat;
                            merged before the --conf-file files
  --conf-user <user>        user for --conf-uri (HTTP Basic authorization)
  --conf-password <pw>      password for --conf-uri
  --poll-interval,-i <s>    seconds between checks for a configuration change
  --backup-directory,-b <d> keep the last good --conf-uri configuration there, for when the
                            server is unreachable at start
  --zkConnString,-z <hosts> take the configuration from ZooKeeper (host:port,...)
  --zkBasePath,-p <path>    base path of the agents' znodes (default /flume)
  --no-reload-conf          do not reload the configuration if it changed
  --strict                  (sluice) a key no component knows is an error, not a warning
  --lenient                 (sluice) drop what Flume drops (a batchSize above the channel's
                            transactionCapacity...) and start the rest, as Flume does
  --help,-h                 display help text (sluice agent's options)

avro-client options:
  --rpcProps,-P <file>   RPC client properties file with server connection params
  --host,-H <host>       hostname to which events will be sent
  --port,-p <port>       port of the avro source
  --dirname <dir>        directory to stream to avro source
  --filename,-F <file>   text file to stream to avro source (default: std input)
  --headerFile,-R <file> File containing event headers as key/value pairs on each new line
  --help,-h              display help text

  Either --rpcProps or both --host and --port must be specified.

JAVA_OPTS (as Flume, the one <conf>/flume-env.sh sets) is read for -D switches; its Java
options are ignored.
EOF
}

here=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
if [ -x "$here/sluice" ]; then
  SLUICE="$here/sluice"
else
  SLUICE=$(command -v sluice) || error "cannot find sluice next to $0 or on PATH" 1
fi

mode=${1:-}
[ $# -gt 0 ] && shift
case "$mode" in
  help)
    display_help
    exit 0
    ;;
  agent | avro-client | version) ;;
  node)
    warn "The \"node\" command is deprecated. Please use \"agent\" instead."
    mode=agent
    ;;
  tool)
    error "\"flume-ng tool\" (Flume's FlumeToolsMain) is not provided by sluice; for the file channel's integrity tool use \"sluice channel-check\"" 1
    ;;
  *)
    error "Unknown or unspecified command '$mode'"
    echo >&2
    display_help >&2
    exit 1
    ;;
esac

opt_conf=""
opt_dryrun=""
plugins=()
args=()
defines=()  # -D switches sluice reads, JAVA_OPTS' first
ignored=()  # Java options, listed in one info line

# Whether sluice reads a -D switch: Flume's own (flume.*, propertiesImplementation) and config
# overrides (<agent>.sources|channels|sinks|sinkgroups.*, monitoring.*, plugins.*). Everything
# else is a Java system property (java.*, com.sun.management.*, org.apache.flume.log.*...).
sluice_define() {
  local key=${1%%=*}
  case "$key" in
    flume.* | propertiesImplementation | monitoring.* | plugins.*) return 0 ;;
  esac
  [[ "$key" =~ ^[^.]+\.(sources|channels|sinks|sinkgroups)(\.|$) ]]
}

take_java_option() {
  local opt=$1
  if [[ "$opt" == -D* ]] && [ "$mode" = agent ] && sluice_define "${opt#-D}"; then
    defines+=("$opt")
  else
    ignored+=("$opt")
  fi
}

while [ $# -gt 0 ]; do
  arg=$1
  shift
  case "$arg" in
    --conf | -c)
      [ -n "${1:-}" ] || error "Option --conf requires an argument" 1
      opt_conf=$1
      shift
      ;;
    --classpath | -C)
      [ -n "${1:-}" ] || error "Option --classpath requires an argument" 1
      ignored+=("$arg $1")
      shift
      ;;
    --dryrun | -d)
      opt_dryrun=1
      ;;
    --plugins-path)
      [ -n "${1:-}" ] || error "Option --plugins-path requires an argument" 1
      plugins+=(--plugins-path "$1")
      shift
      ;;
    -D* | -X* | -agentlib* | -agentpath* | -javaagent*)
      take_java_option "$arg"
      ;;
    *)
      args+=("$arg")
      ;;
  esac
done

# As Flume's flume-ng: JAVA_OPTS from the environment does not count (Flume starts from
# -Xmx20m); <conf>/flume-env.sh may set it.
env_java_opts=${JAVA_OPTS:-}
JAVA_OPTS=""
FLUME_JAVA_OPTS=${FLUME_JAVA_OPTS:-}
if [ -z "$opt_conf" ]; then
  # Flume's `version` says nothing but the version.
  [ "$mode" = version ] || warn "No configuration directory set! Use --conf <dir> to override."
elif [ -f "$opt_conf/flume-env.sh" ]; then
  info "Sourcing environment configuration script $opt_conf/flume-env.sh"
  # shellcheck disable=SC1091
  source "$opt_conf/flume-env.sh"
fi
[ -n "$env_java_opts" ] && [ -z "$JAVA_OPTS" ] && ignored+=("JAVA_OPTS from the environment")

# Java reads JAVA_OPTS before the command line's options: so do the -D switches here.
command_line_defines=("${defines[@]}")
defines=()
# shellcheck disable=SC2206  # word splitting is what java does with JAVA_OPTS
java_opts_words=($JAVA_OPTS $FLUME_JAVA_OPTS)
for opt in "${java_opts_words[@]}"; do
  take_java_option "$opt"
done
defines+=("${command_line_defines[@]}")

if [ ${#ignored[@]} -gt 0 ]; then
  info "sluice is not a Java program; ignoring: ${ignored[*]}"
fi

case "$mode" in
  agent)
    have_name=""
    for a in "${args[@]}"; do
      case "$a" in
        -n | --name | --name=* | -n?* | -h | --help) have_name=1 ;;
      esac
    done
    [ -n "$have_name" ] || error "Missing required option: n (--name <agent>)" 1
    cmd=("$SLUICE" agent)
    [ -n "$opt_conf" ] && cmd+=(--conf "$opt_conf")
    cmd+=("${plugins[@]}" "${defines[@]}" "${args[@]}")
    ;;
  avro-client)
    cmd=("$SLUICE" avro-client "${args[@]}")
    ;;
  version)
    cmd=("$SLUICE" version "${args[@]}")
    ;;
esac

if [ -n "$opt_dryrun" ]; then
  warn "Dryrun mode enabled (will not actually initiate startup)"
  echo "${cmd[@]}"
  exit 0
fi
exec "${cmd[@]}"
