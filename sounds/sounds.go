// Package sounds holds fsivr's voice prompts: 8 kHz, mono, 16-bit PCM WAV
// files laid out the way FreeSWITCH's sound directory expects
// (new_sales/1000.wav, notify/1000.wav, ...), and make.sh, the script that
// generates them reproducibly with espeak-ng and sox. The Go package has no
// code; its test checks that every committed prompt is a WAV FreeSWITCH can
// play as is and that the files match make.sh's table.
package sounds
