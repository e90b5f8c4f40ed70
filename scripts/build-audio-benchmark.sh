#!/usr/bin/env bash
# Builds the Debian-only audio spoofing benchmark used by `dfscan continual`.
#
#   scripts/build-audio-benchmark.sh OUT_DIR [--lowpass HZ]
#
# Needs (Debian 12): sox, espeak-ng, flite, festival, festvox-kallpc16k, festvox-us-slt-hts,
# pocketsphinx-testdata, codec2, codec2-examples, alsa-utils.
#
# Real speech: LibriVox audiobook clips and short command utterances from pocketsphinx-testdata,
# codec2-examples' original recordings, alsa-utils' spoken channel names. Each recording is cut into
# 2 s utterances (the tail is kept when at least 1 s). Recordings, not utterances, are assigned to
# train or test, so the splits share no utterance, speaker session or sentence.
# Attacks (one task each): espeak-ng (5 voices), flite (5 voices), festival diphone (kal, 3 speaking
# rates), festival HTS (slt, 3 speaking rates), codec2 2400 bit/s resynthesis of the real utterances
# (fakes of train utterances are train, of test utterances test). Synthesised sentences come from
# scripts/audio-benchmark/sentences.txt: lines 1-40 train, 41-60 test. "speaker" = the voice.
# Everything ends as 16 kHz mono 16-bit WAV. With --lowpass HZ every file (real and fake) is also
# low-passed at HZ, the bandwidth control.
#
# Output: OUT_DIR/wav/<task>/<file>.wav and OUT_DIR/manifest.csv with the columns
#   path,label,task,split,speaker,source
# (label: real|fake; task: real for bona fide speech, else the attack; paths relative to OUT_DIR),
# and OUT_DIR/tasks.toml listing the attack order.
set -euo pipefail

out=${1:?usage: build-audio-benchmark.sh OUT_DIR [--lowpass HZ]}
lowpass=""
if [[ "${2:-}" == "--lowpass" ]]; then lowpass=${3:?--lowpass needs a frequency}; fi
here=$(cd "$(dirname "$0")" && pwd)
sentences="$here/audio-benchmark/sentences.txt"
for tool in sox espeak-ng flite text2wave c2enc c2dec; do
  command -v "$tool" >/dev/null || { echo "missing $tool (see the header of $0)" >&2; exit 2; }
done
ps=/usr/share/pocketsphinx/test/data
c2=/usr/share/codec2
for f in "$ps/librivox" "$c2/wav/all.wav" /usr/share/sounds/alsa/Front_Left.wav; do
  [[ -e "$f" ]] || { echo "missing $f (install pocketsphinx-testdata, codec2-examples, alsa-utils)" >&2; exit 2; }
done

rm -rf "$out"
mkdir -p "$out/wav" "$out/tmp"
manifest="$out/manifest.csv"
echo "path,label,task,split,speaker,source" > "$manifest"
tmp="$out/tmp"

# finish SRC DST: 16 kHz mono s16, optional low-pass, 0.1 dB headroom normalisation.
finish() {
  local effects=(rate -v 16000)
  [[ -n "$lowpass" ]] && effects+=(sinc "-$lowpass")
  sox -q -V1 "$1" -r 16000 -c 1 -b 16 -e signed-integer "$2" "${effects[@]}" gain -n -0.1
}

# Real recordings: "split speaker path [sox input options]". Recordings that overlap (codec2's all.wav
# contains the short hts/big_dog/cross/mmt clips) sit in the same split.
real_list=(
  "train c2-all $c2/wav/all.wav"
  "train c2-all $c2/wav/big_dog.wav"
  "train c2-all $c2/wav/cross.wav"
  "train c2-all $c2/wav/hts1a.wav"
  "train c2-all $c2/wav/hts2a.wav"
  "train c2-all $c2/wav/mmt1.wav"
  "train c2-forig $c2/wav/forig.wav"
  "train c2-morig $c2/wav/morig.wav"
  "train c2-david $c2/wav/david4.wav"
  "train c2-vk2tpm $c2/wav/vk2tpm_004.wav"
  "train c2-16k $c2/raw/speech_orig_16k.wav"
  "train c2-kristoff $c2/raw/kristoff.raw -t raw -r 8000 -e signed -b 16 -c 1"
  "train librivox $ps/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"
  "train librivox $ps/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
  "train librivox $ps/librivox/sense_and_sensibility_01_austen_64kb-0890.wav"
  "train cards $ps/cards/001.wav"
  "train cards $ps/cards/002.wav"
  "train cards $ps/cards/003.wav"
  "train ps-goforward $ps/goforward.raw -t raw -r 16000 -e signed -b 16 -c 1"
  "train ps-numbers $ps/numbers.raw -t raw -r 16000 -e signed -b 16 -c 1"
  "train alsa /usr/share/sounds/alsa/Front_Left.wav"
  "train alsa /usr/share/sounds/alsa/Front_Right.wav"
  "train alsa /usr/share/sounds/alsa/Front_Center.wav"
  "train alsa /usr/share/sounds/alsa/Side_Left.wav"
  "train alsa /usr/share/sounds/alsa/Side_Right.wav"
  "test c2-ve9qrp $c2/wav/ve9qrp.wav"
  "test c2-vk5qi $c2/wav/vk5qi.wav"
  "test c2-g3plx $c2/raw/g3plx.raw -t raw -r 8000 -e signed -b 16 -c 1"
  "test c2-wia $c2/wav/wia_16kHz.wav"
  "test librivox $ps/librivox/sense_and_sensibility_01_austen_64kb-0920.wav"
  "test librivox $ps/librivox/sense_and_sensibility_01_austen_64kb-0930.wav"
  "test cards $ps/cards/004.wav"
  "test cards $ps/cards/005.wav"
  "test ps-something $ps/something.raw -t raw -r 16000 -e signed -b 16 -c 1"
  "test alsa /usr/share/sounds/alsa/Rear_Left.wav"
  "test alsa /usr/share/sounds/alsa/Rear_Right.wav"
  "test alsa /usr/share/sounds/alsa/Rear_Center.wav"
)
# ve9qrp.wav is 112 s of one speaker; its first 60 s are enough and keep the test set balanced.
max_seconds=60

mkdir -p "$out/wav/real" "$out/wav/codec2"
n_real=0
for entry in "${real_list[@]}"; do
  read -r split speaker path opts <<<"$entry"
  base=$(basename "${path%.*}")
  # shellcheck disable=SC2086
  sox -q -V1 ${opts:-} "$path" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/rec.wav" rate -v 16000 trim 0 "$max_seconds"
  total=$(soxi -D "$tmp/rec.wav")
  start=0
  idx=0
  while awk -v s="$start" -v t="$total" 'BEGIN { exit !(t - s >= 1.0) }'; do
    name="${speaker}_${base}_$(printf %02d $idx)"
    sox -q -V1 "$tmp/rec.wav" "$tmp/seg.wav" trim "$start" 2
    finish "$tmp/seg.wav" "$out/wav/real/$name.wav"
    echo "wav/real/$name.wav,real,real,$split,$speaker,$base" >> "$manifest"
    # codec2 2400 resynthesis of the same utterance (codec2 works on 8 kHz s16 raw).
    sox -q -V1 "$tmp/seg.wav" -t raw -r 8000 -e signed -b 16 -c 1 "$tmp/seg8k.raw"
    c2enc 2400 "$tmp/seg8k.raw" "$tmp/seg.bit"
    c2dec 2400 "$tmp/seg.bit" "$tmp/seg_c2.raw"
    sox -q -V1 -t raw -r 8000 -e signed -b 16 -c 1 "$tmp/seg_c2.raw" "$tmp/seg_c2.wav"
    finish "$tmp/seg_c2.wav" "$out/wav/codec2/$name.wav"
    echo "wav/codec2/$name.wav,fake,codec2,$split,codec2-2400,$base" >> "$manifest"
    start=$(awk -v s="$start" 'BEGIN { print s + 2 }')
    idx=$((idx + 1))
    n_real=$((n_real + 1))
  done
done
echo "real utterances: $n_real" >&2

# synth TASK SPEAKER COMMAND...: runs COMMAND with {TEXT} {TXT} {OUT} substituted, per sentence.
synth() {
  local task=$1 speaker=$2
  shift 2
  mkdir -p "$out/wav/$task"
  local i=0
  while IFS= read -r sentence; do
    i=$((i + 1))
    [[ -z "$sentence" ]] && continue
    local split=train
    ((i > 40)) && split=test
    printf '%s\n' "$sentence" > "$tmp/text.txt"
    local args=()
    for a in "$@"; do
      a=${a//\{TEXT\}/$sentence}
      a=${a//\{TXT\}/$tmp/text.txt}
      a=${a//\{OUT\}/$tmp/synth.wav}
      args+=("$a")
    done
    "${args[@]}" >/dev/null 2>&1
    local name="${speaker}_s$(printf %02d $i)"
    finish "$tmp/synth.wav" "$out/wav/$task/$name.wav"
    echo "wav/$task/$name.wav,fake,$task,$split,$speaker,sentence$i" >> "$manifest"
  done < "$sentences"
}

for v in en-us en-gb en-gb-scotland en-029 en-us+f3; do
  synth espeak "espeak-$v" espeak-ng -v "$v" -w "{OUT}" "{TEXT}"
done
for v in kal kal16 awb rms slt; do
  synth flite "flite-$v" flite -voice "$v" -t "{TEXT}" -o "{OUT}"
done
for stretch in 0.85 1.0 1.2; do
  synth festival-kal "festival-kal-x$stretch" text2wave -o "{OUT}" \
    -eval "(begin (voice_kal_diphone) (Parameter.set 'Duration_Stretch $stretch))" "{TXT}"
  synth festival-hts "festival-slt-x$stretch" text2wave -o "{OUT}" \
    -eval "(begin (voice_cmu_us_slt_arctic_hts) (Parameter.set 'Duration_Stretch $stretch))" "{TXT}"
done

cat > "$out/tasks.toml" <<TOML
# Attack order for dfscan continual; every task also holds the bona fide (real) utterances.
manifest = "manifest.csv"
tasks = ["espeak", "flite", "festival-kal", "festival-hts", "codec2"]
TOML
rm -rf "$tmp"
echo "wrote $(($(wc -l < "$manifest") - 1)) files to $out" >&2
awk -F, 'NR > 1 { n[$3 "/" $4]++ } END { for (k in n) print k, n[k] }' "$manifest" | sort >&2
