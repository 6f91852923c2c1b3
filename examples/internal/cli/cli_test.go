package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChoosePacks(t *testing.T) {
	for _, tc := range []struct {
		list   string
		rounds int
		want   []string
		err    string
	}{
		{"capitals,collectives,continents", 0, []string{"capitals", "collectives", "continents"}, ""},
		{"capitals,collectives,continents", 2, []string{"capitals", "collectives"}, ""},
		{"capitals,nope", 0, nil, `unknown pack "nope" in -packs`},
		{"capitals", 2, nil, "-rounds must be between 0 and the 1 packs of -packs, got 2"},
		{"capitals", -1, nil, "got -1"},
	} {
		got, err := ChoosePacks(tc.list, tc.rounds)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "%s %d", tc.list, tc.rounds)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
}

func parseCommon(args []string, h Help) (Common, error) {
	var c Common
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Register(fs, h)
	if err := c.Parse(fs, args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestParseAndValidate(t *testing.T) {
	h := Help{Packs: "packs", Rounds: "rounds", Knowledge: true}
	c, err := parseCommon([]string{"-rounds", "2", "-rank", "4", "-lr", "1e-3", "-quiet"}, h)
	require.NoError(t, err)
	require.Equal(t, []string{"capitals", "collectives"}, c.Packs)
	require.Equal(t, 4, c.Rank)
	require.Equal(t, 1e-3, c.LR)
	require.Equal(t, 32, c.Limit)
	require.Equal(t, 32, c.Knowledge)
	require.Equal(t, 8, c.Epochs)
	require.Equal(t, uint64(1), c.Seed)
	require.True(t, c.Quiet)

	for args, msg := range map[string]string{
		"-limit 0":      "-limit, -epochs and -rank must be ≥ 1, got 0, 8 and 8",
		"-knowledge -1": "-knowledge must be ≥ 0, got -1",
		"-lr 0":         "-lr must be > 0, got 0",
		"extra":         `unexpected argument "extra"`,
	} {
		_, err := parseCommon(strings.Fields(args), h)
		require.EqualError(t, err, msg, args)
	}

	// Without Rounds and Knowledge, -rounds and -knowledge are not flags, and no knowledge is scored.
	c, err = parseCommon(nil, Help{Packs: "packs"})
	require.NoError(t, err)
	require.Zero(t, c.Knowledge)
	_, err = parseCommon([]string{"-knowledge", "3"}, Help{Packs: "packs"})
	require.ErrorContains(t, err, "flag provided but not defined: -knowledge")
}

func TestMainExitCodes(t *testing.T) {
	parse := func(args []string, _ io.Writer) (string, error) {
		switch args[0] {
		case "help":
			return "", flag.ErrHelp
		case "bad":
			return "", errors.New("bad flag")
		}
		return args[0], nil
	}
	study := func(_ context.Context, o string, stdout, _ io.Writer) error {
		if o == "fail" {
			return errors.New("study failed")
		}
		_, err := io.WriteString(stdout, "studied "+o)
		return err
	}
	for _, tc := range []struct {
		arg, out, err string
		code          int
	}{
		{"ok", "studied ok", "", 0},
		{"help", "", "", 0},
		{"bad", "", "prog: bad flag\n", 2},
		{"fail", "", "prog: study failed\n", 1},
	} {
		var out, errb bytes.Buffer
		require.Equal(t, tc.code, Main("prog", []string{tc.arg}, &out, &errb, parse, study), tc.arg)
		require.Equal(t, tc.out, out.String(), tc.arg)
		require.Equal(t, tc.err, errb.String(), tc.arg)
	}
}
