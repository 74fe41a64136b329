/* The bash completion script, generated from the flag table and the command table (cli.h):
 * the data (flags, commands, their key= options and what each value takes) is written out
 * as bash case statements, followed by the fixed functions that use it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds/commands.h"
#include "shell/cli.h"
#include "text/strbuf.h"

/* A word in single quotes, safe whatever it holds. */
static void sh_quoted(StrBuf *b, const char *s)
{
    strbuf_printf(b, "'");
    for (; *s; s++) {
        if (*s == '\'')
            strbuf_printf(b, "'\\''");
        else
            strbuf_append(b, s, 1);
    }
    strbuf_printf(b, "'");
}

/* What a value of this kind completes to, space-separated: its names, and "@file" when it
 * is a path. Empty when nothing can be offered (a layer, a variant, free text). */
static void value_words(StrBuf *out, OptKind kind, OptChoices choices)
{
    if (kind == OPT_FILE)
        strbuf_printf(out, "@file");
    OptChoices names = optkind_choices(kind, choices);
    const char *name;
    for (int i = 0; names && (name = names(i)); i++)
        strbuf_printf(out, "%s%s", out->len ? " " : "", name);
}

/* One case branch "PATTERN) REPLY='WORDS' ;;" when there are words. */
static void case_branch(StrBuf *b, const char *cmd, const char *key, const StrBuf *words)
{
    if (!words->len)
        return;
    strbuf_printf(b, "    ");
    sh_quoted(b, cmd);
    strbuf_printf(b, ":");
    sh_quoted(b, key);
    strbuf_printf(b, ") REPLY=");
    sh_quoted(b, strbuf_str(words));
    strbuf_printf(b, " ;;\n");
}

static void gen_tables(StrBuf *b)
{
    strbuf_printf(b, "_qscope_commands=");
    StrBuf words = { 0 };
    for (int i = 0; i < cmd_count; i++)
        strbuf_printf(&words, "%s%s", i ? " " : "", cmd_table[i].name);
    sh_quoted(b, strbuf_str(&words));
    strbuf_printf(b, "\n\n# The key= options of command $1.\n_qscope_keys() {\n"
                     "    case $1 in\n");
    for (int i = 0; i < cmd_count; i++) {
        strbuf_clear(&words);
        CmdOpt o;
        for (int k = 0; cmd_option_at(&cmd_table[i], k, &o); k++)
            strbuf_printf(&words, "%s%s=", k ? " " : "", o.name);
        if (!words.len)
            continue;
        strbuf_printf(b, "    ");
        sh_quoted(b, cmd_table[i].name);
        strbuf_printf(b, ") REPLY=");
        sh_quoted(b, strbuf_str(&words));
        strbuf_printf(b, " ;;\n");
    }
    strbuf_printf(b, "    *) REPLY= ;;\n    esac\n}\n\n"
                     "# What command $1's option $2 (or positional argument #N) takes: words, "
                     "and @file for a path.\n_qscope_values() {\n    case $1:$2 in\n");
    for (int i = 0; i < cmd_count; i++) {
        const CmdDef *d = &cmd_table[i];
        char pos[16];
        for (int k = 0; d->args && d->args[k].name; k++) {
            strbuf_clear(&words);
            value_words(&words, d->args[k].kind, d->args[k].choices);
            snprintf(pos, sizeof pos, "#%d", k);
            case_branch(b, d->name, pos, &words);
        }
        CmdOpt o;
        for (int k = 0; cmd_option_at(d, k, &o); k++) {
            strbuf_clear(&words);
            value_words(&words, o.kind, o.choices);
            case_branch(b, d->name, o.name, &words);
        }
    }
    strbuf_printf(b, "    *) REPLY= ;;\n    esac\n}\n\n");
    strbuf_release(&words);
}

/* _qscope_flags, _qscope_cmd_flags (flags whose argument is qscope commands) and
 * _qscope_flag_arg, what a flag's argument takes. */
static void gen_flags(StrBuf *b, const CliFlag *flags, int n)
{
    StrBuf all = { 0 }, cmd = { 0 };
    for (int i = 0; i < n; i++) {
        strbuf_printf(&all, "%s%s", i ? " " : "", flags[i].name);
        if (flags[i].alias)
            strbuf_printf(&all, " %s", flags[i].alias);
        if (flags[i].kind == CLI_ARG_COMMANDS)
            strbuf_printf(&cmd, "%s%s", cmd.len ? " " : "", flags[i].name);
    }
    strbuf_printf(b, "_qscope_flags=");
    sh_quoted(b, strbuf_str(&all));
    strbuf_printf(b, "\n_qscope_cmd_flags=");
    sh_quoted(b, strbuf_str(&cmd));
    char *suffixes = cli_model_suffixes(" ");
    strbuf_printf(b, "\n_qscope_model_suffixes=");
    sh_quoted(b, suffixes);
    free(suffixes);
    strbuf_printf(b, "\n\n# What flag $1's argument takes: script, file, shell, text; empty "
                     "when the flag takes none.\n_qscope_flag_arg() {\n    case $1 in\n");
    static const char *const kinds[] = {
        [CLI_ARG_TEXT] = "text",     [CLI_ARG_FILE] = "file",   [CLI_ARG_SCRIPT] = "script",
        [CLI_ARG_COMMANDS] = "text", [CLI_ARG_SHELL] = "shell",
    };
    for (int i = 0; i < n; i++) {
        if (flags[i].kind == CLI_ARG_NONE)
            continue;
        strbuf_printf(b, "    ");
        sh_quoted(b, flags[i].name);
        if (flags[i].alias) {
            strbuf_printf(b, "|");
            sh_quoted(b, flags[i].alias);
        }
        strbuf_printf(b, ") REPLY=%s ;;\n", kinds[flags[i].kind]);
    }
    strbuf_printf(b, "    *) REPLY= ;;\n    esac\n}\n\n");
    strbuf_release(&all);
    strbuf_release(&cmd);
}

/* The functions over the generated data. Completion works on the line up to the cursor
 * (COMP_LINE, COMP_POINT) rather than COMP_WORDS, whose split at '=', ':' and quotes
 * depends on COMP_WORDBREAKS; candidates are whole words, and _qscope_reply turns them into
 * replacements for the text readline replaces ($2). */
static const char completion_functions[] =
    "# Candidates for the word w: the words of spec matching w (and files for @file), each\n"
    "# after prefix. Appends to _qscope_cands.\n"
    "_qscope_offer() {\n"
    "    local prefix=$1 w=$2 spec=$3 x\n"
    "    if [[ \" $spec \" == *' @file '* ]]; then\n"
    "        while IFS= read -r x; do\n"
    "            [[ -d $x ]] && x+=/\n"
    "            _qscope_cands+=(\"$prefix$x\")\n"
    "        done < <(compgen -f -- \"$w\")\n"
    "        spec=${spec//@file/}\n"
    "    fi\n"
    "    while IFS= read -r x; do\n"
    "        [[ -n $x ]] && _qscope_cands+=(\"$prefix$x\")\n"
    "    done < <(compgen -W \"$spec\" -- \"$w\")\n"
    "}\n"
    "\n"
    "# Completes inside qscope commands (-c's argument, its quotes removed): sets _qscope_w,\n"
    "# the word being completed, and _qscope_cands, the whole words it may become.\n"
    "_qscope_in_commands() {\n"
    "    local text=${1##*;} cmd x npos=0\n"
    "    local -a words\n"
    "    _qscope_w=${text##*[[:space:]]}\n"
    "    read -ra words <<< \"${text%\"$_qscope_w\"}\"\n"
    "    _qscope_cands=()\n"
    "    if (( ${#words[@]} == 0 )); then\n"
    "        _qscope_offer '' \"$_qscope_w\" \"$_qscope_commands\"\n"
    "        return\n"
    "    fi\n"
    "    cmd=${words[0]}\n"
    "    if [[ $_qscope_w == *=* ]]; then\n"
    "        _qscope_values \"$cmd\" \"${_qscope_w%%=*}\"\n"
    "        _qscope_offer \"${_qscope_w%%=*}=\" \"${_qscope_w#*=}\" \"$REPLY\"\n"
    "        return\n"
    "    fi\n"
    "    for x in \"${words[@]:1}\"; do\n"
    "        [[ $x == *=* ]] || npos=$((npos + 1))\n"
    "    done\n"
    "    _qscope_keys \"$cmd\"\n"
    "    _qscope_offer '' \"$_qscope_w\" \"$REPLY\"\n"
    "    _qscope_values \"$cmd\" \"#$npos\"\n"
    "    _qscope_offer '' \"$_qscope_w\" \"$REPLY\"\n"
    "}\n"
    "\n"
    "# Removes the shell quoting of $1 into REPLY; _qscope_open is the quote still open at its\n"
    "# end. Fails at unquoted white space when $2 is \"word\" (the word ended there).\n"
    "_qscope_dequote() {\n"
    "    local s=$1 c i\n"
    "    REPLY= _qscope_open=\n"
    "    for ((i = 0; i < ${#s}; i++)); do\n"
    "        c=${s:i:1}\n"
    "        if [[ -n $_qscope_open ]]; then\n"
    "            [[ $c == \"$_qscope_open\" ]] && _qscope_open= || REPLY+=$c\n"
    "        elif [[ $c == [\\\"\\'] ]]; then\n"
    "            _qscope_open=$c\n"
    "        elif [[ $c == \\\\ ]]; then\n"
    "            i=$((i + 1))\n"
    "            REPLY+=${s:i:1}\n"
    "        elif [[ $c == [[:space:]] && $2 == word ]]; then\n"
    "            return 1\n"
    "        else\n"
    "            REPLY+=$c\n"
    "        fi\n"
    "    done\n"
    "}\n"
    "\n"
    "# When the cursor is in the argument of a flag of _qscope_cmd_flags: the command text so\n"
    "# far, unquoted, in _qscope_text (and _qscope_open, the quote still open), and success.\n"
    "_qscope_command_arg() {\n"
    "    local line=$1 f\n"
    "    for f in $_qscope_cmd_flags; do\n"
    "        [[ $line == *\" $f \"* ]] || continue\n"
    "        _qscope_dequote \"${line##*\" $f \"}\" word || continue\n"
    "        _qscope_text=$REPLY\n"
    "        return 0\n"
    "    done\n"
    "    return 1\n"
    "}\n"
    "\n"
    "# COMPREPLY from _qscope_cands, as replacements of $1, the text readline replaces: inside\n"
    "# an open quote readline gives the text after it, and closes the quote after a single\n"
    "# match; after a closed quote (\"eval split=\"ca) it gives the whole word, quotes and all,\n"
    "# which is then given back with its quote reopened; broken at '=' or ':' it gives a tail.\n"
    "_qscope_reply() {\n"
    "    local raw=$1 w=$_qscope_w d=$1 q= c\n"
    "    if [[ -z $_qscope_open ]]; then\n"
    "        _qscope_dequote \"$raw\"\n"
    "        d=$REPLY\n"
    "        [[ $d != \"$raw\" ]] && q='\"'\n"
    "    fi\n"
    "    local -i keep=$(( ${#d} - ${#w} ))\n"
    "    COMPREPLY=()\n"
    "    for c in \"${_qscope_cands[@]}\"; do\n"
    "        if (( keep >= 0 )); then\n"
    "            COMPREPLY+=(\"$q${d:0:keep}$c\")\n"
    "        else\n"
    "            COMPREPLY+=(\"${c:(-keep)}\")\n"
    "        fi\n"
    "    done\n"
    "    # a key= or a folder goes on being typed\n"
    "    if (( ${#COMPREPLY[@]} == 1 )) && [[ ${COMPREPLY[0]} == *[=/] ]]; then\n"
    "        compopt -o nospace 2>/dev/null\n"
    "    fi\n"
    "}\n"
    "\n"
    "_qscope() {\n"
    "    local cur=$2 prev=$3 line=${COMP_LINE:0:COMP_POINT} x s\n"
    "    COMPREPLY=()\n"
    "    if _qscope_command_arg \"$line\"; then\n"
    "        _qscope_in_commands \"$_qscope_text\"\n"
    "        _qscope_reply \"$cur\"\n"
    "        return 0\n"
    "    fi\n"
    "    _qscope_flag_arg \"$prev\"\n"
    "    case $REPLY in\n"
    "    script)\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        mapfile -t COMPREPLY < <(compgen -d -- \"$cur\"; compgen -f -X '!*.qs' -- \"$cur\")\n"
    "        return 0 ;;\n"
    "    file)\n"
    "        compopt -o filenames 2>/dev/null\n"
    "        mapfile -t COMPREPLY < <(compgen -f -- \"$cur\")\n"
    "        return 0 ;;\n"
    "    shell) COMPREPLY=($(compgen -W 'bash' -- \"$cur\")); return 0 ;;\n"
    "    text) return 0 ;;\n"
    "    esac\n"
    "    if [[ $cur == -* ]]; then\n"
    "        COMPREPLY=($(compgen -W \"$_qscope_flags\" -- \"$cur\"))\n"
    "        return 0\n"
    "    fi\n"
    "    # MODEL: folders and the files whose suffix the model-file table reads\n"
    "    compopt -o filenames 2>/dev/null\n"
    "    mapfile -t COMPREPLY < <(compgen -d -- \"$cur\")\n"
    "    while IFS= read -r x; do\n"
    "        for s in $_qscope_model_suffixes; do\n"
    "            [[ $x == *\"$s\" && ! -d $x ]] && COMPREPLY+=(\"$x\")\n"
    "        done\n"
    "    done < <(compgen -f -- \"$cur\")\n"
    "}\n"
    "complete -F _qscope qscope\n";

char *cli_completion_bash(const CliFlag *flags, int n)
{
    StrBuf b = { 0 };
    strbuf_printf(&b, "# bash completion for qscope. Generated by `qscope --completion bash` "
                      "from its flag and\n# command tables; installed as "
                      "share/bash-completion/completions/qscope (or source it).\n\n");
    gen_flags(&b, flags, n);
    gen_tables(&b);
    strbuf_printf(&b, "%s", completion_functions);
    return strbuf_take(&b);
}
