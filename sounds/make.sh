#!/usr/bin/env bash
# Regenerates fsivr's prompts: 8 kHz, mono, 16-bit PCM WAV, spoken by
# espeak-ng and converted by sox with fixed options, so the same tool
# versions give the same bytes. CI does not run this; the WAVs are committed.
#
#   apt-get install -y espeak-ng sox
#   sounds/make.sh                     # every prompt
#   sounds/make.sh notify/1000.wav     # only the named prompts
set -euo pipefail
cd "$(dirname "$0")"

# Fixed voice and delivery: change these and every prompt changes.
VOICE=en-us     # espeak-ng voice
SPEED=150       # words per minute
PITCH=45        # 0..99
AMPLITUDE=100   # 0..200
GAP=4           # extra pause between words, in 10 ms units at normal speed

# path (relative to sounds/, FreeSWITCH sound-dir style) | sentence
read -r -d '' PROMPTS <<'TABLE' || true
new_sales/1000.wav|Welcome to the sales line. Thank you for calling.
new_sales/1001.wav|For hot sales, press 1. For your account manager, press 2, 3 or 4. To dial an extension, press 5.
new_sales/1002.wav|Please hold while we connect you to your account manager.
new_sales/2002.wav|Please enter the three digit extension.
new_sales/9003.wav|Sorry, we did not get a valid choice. Goodbye.
new_sales/9004.wav|That is not a valid choice.
new_sales/81001.wav|Your account manager is not available. Press 1 for their cellphone, 2 for voicemail.
new_sales/81002.wav|Your account manager is not available. Press 1 for their cellphone, 2 for voicemail.
new_sales/81003.wav|Your account manager is not available. Press 1 for their cellphone, 2 for voicemail.
notify/1000.wav|This is a reminder of your appointment tomorrow. Press 1 to confirm, press 2 to hear this message again.
notify/1001.wav|Thank you, your appointment is confirmed. Goodbye.
notify/1002.wav|Goodbye.
notify/9004.wav|That is not a valid choice.
TABLE

for tool in espeak-ng sox; do
  command -v "$tool" >/dev/null 2>&1 || { echo "make.sh: $tool not found (apt-get install -y espeak-ng sox)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

wanted=("$@")
made=0
while IFS='|' read -r path text; do
  [ -n "$path" ] || continue
  if [ ${#wanted[@]} -gt 0 ]; then
    match=0
    for w in "${wanted[@]}"; do [ "$w" = "$path" ] && match=1; done
    [ $match -eq 1 ] || continue
  fi
  mkdir -p "$(dirname "$path")"
  espeak-ng -v "$VOICE" -s "$SPEED" -p "$PITCH" -a "$AMPLITUDE" -g "$GAP" -w "$tmp/raw.wav" -- "$text"
  # -D: no dither and -R: repeatable, so the output is deterministic;
  # norm leaves 1 dB of headroom; pad adds a short lead-in and tail so the
  # first syllable is not clipped while media starts.
  sox -D -R "$tmp/raw.wav" -r 8000 -c 1 -b 16 -e signed-integer -t wav "$tmp/out.wav" \
    silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -1 pad 0.15 0.3
  mv "$tmp/out.wav" "$path"
  made=$((made + 1))
  printf '%-22s %6d bytes  %s\n' "$path" "$(wc -c <"$path")" "$text"
done <<<"$PROMPTS"

if [ ${#wanted[@]} -gt 0 ] && [ "$made" -ne ${#wanted[@]} ]; then
  echo "make.sh: some requested prompts are not in the table" >&2
  exit 1
fi
echo "made $made prompts with $(espeak-ng --version | head -n1 | cut -d' ' -f1-4) and $(sox --version | sed 's/^.*SoX/SoX/')"
