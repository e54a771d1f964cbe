#!/bin/sh
# fetch-corpora.sh - downloads public dialogue corpora, checks them, and imports them with
# `lstmlm corpus import`. Needs a network, curl (or wget), unzip and sha256sum. The tests
# never run this script.
#
# Usage: data/fetch-corpora.sh [-d DIR] [cornell] [dailydialog] [opensubtitles]
#   -d DIR   where to put the corpora [./corpora]; no name = all three.
# Environment:
#   LSTMLM         the lstmlm program [lstmlm on PATH, else ./src/lstmlm]
#   CORNELL_URL, DAILYDIALOG_URL, OPUS_URL   mirrors of the downloads
#   OPUS_PAIR      OpenSubtitles language pair whose English side is sampled [en-eo]
#   OPUS_LINES     lines of the sample [100000]
#
# Checksums. No publisher of these corpora prints a checksum for its archive, so the archives
# themselves cannot be verified: the script prints their sha256 and says UNVERIFIED. What it
# does verify is the files inside that the lstmlm maintainers hold unmodified copies of
# (their provenance is recorded with the project's shared test data):
#   Cornell:     movie_titles_metadata.txt, movie_characters_metadata.txt, raw_script_urls.txt
#                (github.com/gitakrishna/gender-bias, commit dac812de) and README.txt
#                (github.com/naturesphere/DeepQA data/cornell). movie_lines.txt and
#                movie_conversations.txt are only checked for consistency: the first 6,653
#                conversations (movies m0-m47, LF line ends) should equal the slice the tests use.
#   DailyDialog: train/dialogues_train.txt and validation/dialogues_validation.txt (from the
#                original distribution's train.zip and validation.zip, members dated
#                2017-04-14); the test split is not verified.
#   OpenSubtitles: nothing (the sample is only printed with its sha256).
# A mismatch of a verified file stops the script with exit status 1.
#
# Licences: Cornell Movie-Dialogs states no licence (research use; the authors ask to be told
# of published results); DailyDialog is CC BY-NC-SA 4.0; OpenSubtitles (OPUS) is for research,
# see https://opus.nlpl.eu/OpenSubtitles. They are not part of lstmlm and are not redistributed.
set -eu

dest=corpora
while [ $# -gt 0 ]; do
    case $1 in
    -d)
        if [ $# -lt 2 ]; then
            echo "usage: $0 [-d DIR] [cornell] [dailydialog] [opensubtitles]" >&2
            exit 2
        fi
        dest=$2
        shift 2
        ;;
    -h | --help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "$0: unknown option $1" >&2
        exit 2
        ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || set -- cornell dailydialog opensubtitles
for corpus in "$@"; do
    case $corpus in
    cornell | dailydialog | opensubtitles) ;;
    *)
        echo "$0: unknown corpus '$corpus' (cornell, dailydialog, opensubtitles)" >&2
        exit 2
        ;;
    esac
done

CORNELL_URL=${CORNELL_URL:-\
https://www.cs.cornell.edu/~cristian/data/cornell_movie_dialogs_corpus.zip}
DAILYDIALOG_URL=${DAILYDIALOG_URL:-http://yanran.li/files/ijcnlp_dailydialog.zip}
OPUS_PAIR=${OPUS_PAIR:-en-eo}
OPUS_URL=${OPUS_URL:-\
https://object.pouta.csc.fi/OPUS-OpenSubtitles/v2018/moses/$OPUS_PAIR.txt.zip}
OPUS_LINES=${OPUS_LINES:-100000}

if [ -z "${LSTMLM:-}" ]; then
    if command -v lstmlm >/dev/null 2>&1; then
        LSTMLM=lstmlm
    elif [ -x ./src/lstmlm ]; then
        LSTMLM=./src/lstmlm
    else
        LSTMLM=
    fi
fi

for tool in unzip sha256sum; do
    command -v $tool >/dev/null 2>&1 || { echo "$0: $tool is needed" >&2; exit 1; }
done

fetch() { # URL FILE
    if [ -s "$2" ]; then
        echo "have $2"
        return 0
    fi
    echo "downloading $1"
    if command -v curl >/dev/null 2>&1; then
        curl -fL --retry 3 -o "$2.part" "$1"
    else
        wget -O "$2.part" "$1"
    fi
    mv "$2.part" "$2"
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

verify() { # FILE SHA256
    got=$(sha "$1")
    if [ "$got" = "$2" ]; then
        echo "verified   $1"
    else
        echo "MISMATCH   $1: sha256 $got, expected $2" >&2
        exit 1
    fi
}

unverified() { # FILE
    echo "UNVERIFIED $1: sha256 $(sha "$1") (no published checksum known)"
}

import() { # FORMAT OUT INPUT... (sh has no local variables: these names are its own)
    import_format=$1
    import_out=$2
    shift 2
    if [ -n "$LSTMLM" ]; then
        "$LSTMLM" corpus import --format "$import_format" "$@" -o "$import_out"
    else
        echo "lstmlm not found (set LSTMLM): not importing $*"
    fi
}

mkdir -p "$dest"

for corpus in "$@"; do
    case $corpus in
    cornell)
        zip="$dest/cornell_movie_dialogs_corpus.zip"
        fetch "$CORNELL_URL" "$zip"
        unverified "$zip"
        tmp="$dest/cornell.unzip"
        rm -rf "$tmp"
        mkdir -p "$tmp"
        unzip -q -o "$zip" -d "$tmp"
        lines=$(find "$tmp" -name movie_lines.txt ! -path '*__MACOSX*' | head -n 1)
        [ -n "$lines" ] || { echo "$zip: no movie_lines.txt inside" >&2; exit 1; }
        out="$dest/cornell_movie_dialogs"
        rm -rf "$out"
        mv "$(dirname "$lines")" "$out"
        rm -rf "$tmp"
        verify "$out/movie_titles_metadata.txt" \
            d2c29ab520b41d82e62d44e5737b03dc822e58cae25d345912195fe938d9f28c
        verify "$out/movie_characters_metadata.txt" \
            332f1c58198ed1a6fef3c1b13bc54b46730a401a11ae979b7601e1f1564aaf23
        verify "$out/raw_script_urls.txt" \
            29b747a358809b539e924531113a286530c4a0d392bbd111a164336648578b05
        verify "$out/README.txt" \
            eed90a1e924bbc927abf2195eb92b96037df04a8549f92fad1a10f9f52c2c357
        unverified "$out/movie_lines.txt"
        unverified "$out/movie_conversations.txt"
        slice=5ccb0b123fe06b1296f46ce89b72de5522d30fefc6ee64f2fa45b01f1ca5022c
        head6653=$(head -n 6653 "$out/movie_conversations.txt" | tr -d '\r' | sha256sum)
        if [ "${head6653%% *}" = "$slice" ]; then
            echo "consistent $out/movie_conversations.txt: first 6653 lines equal the test slice"
        else
            echo "note: the first 6653 lines of movie_conversations.txt differ from the test slice"
        fi
        import cornell "$dest/cornell.txt" "$out"
        ;;
    dailydialog)
        zip="$dest/ijcnlp_dailydialog.zip"
        fetch "$DAILYDIALOG_URL" "$zip"
        unverified "$zip"
        out="$dest/dailydialog"
        rm -rf "$out"
        mkdir -p "$out"
        unzip -q -o "$zip" -d "$out"
        for split in train validation test; do
            inner=$(find "$out" -name "$split.zip" | head -n 1)
            [ -n "$inner" ] || { echo "$zip: no $split.zip inside" >&2; exit 1; }
            unzip -q -o "$inner" -d "$out/$split.unzip"
            file=$(find "$out/$split.unzip" -name "dialogues_$split.txt" | head -n 1)
            [ -n "$file" ] || { echo "$inner: no dialogues_$split.txt inside" >&2; exit 1; }
            mv "$file" "$out/dialogues_$split.txt"
            rm -rf "$out/$split.unzip"
        done
        verify "$out/dialogues_train.txt" \
            71633bd5fdb0b09dd82215b131b56432cf7329a0fe50bc8adec168713d350d1a
        verify "$out/dialogues_validation.txt" \
            2ad64701fe3a4449e7a6ee7cdc6c2a71c80f77b8a34f708ac0532395f499081c
        unverified "$out/dialogues_test.txt"
        import eou "$dest/dailydialog.train.txt" "$out/dialogues_train.txt"
        import eou "$dest/dailydialog.valid.txt" "$out/dialogues_validation.txt"
        import eou "$dest/dailydialog.test.txt" "$out/dialogues_test.txt"
        ;;
    opensubtitles)
        zip="$dest/OpenSubtitles.$OPUS_PAIR.txt.zip"
        fetch "$OPUS_URL" "$zip"
        unverified "$zip"
        tmp="$dest/opus.unzip"
        rm -rf "$tmp"
        mkdir -p "$tmp"
        unzip -q -o "$zip" -d "$tmp"
        en=$(find "$tmp" -name "*.$OPUS_PAIR.en" | head -n 1)
        [ -n "$en" ] || { echo "$zip: no English side (*.$OPUS_PAIR.en) inside" >&2; exit 1; }
        sample="$dest/opensubtitles.$OPUS_PAIR.en.sample.txt"
        head -n "$OPUS_LINES" "$en" >"$sample"
        rm -rf "$tmp"
        unverified "$sample"
        # One subtitle line per line and no conversation boundaries: the text format keeps
        # it as one long conversation.
        import text "$dest/opensubtitles.txt" "$sample"
        ;;
    esac
done
echo "done: corpora in $dest"
