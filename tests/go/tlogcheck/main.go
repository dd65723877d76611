// Command tlogcheck verifies kpledger checkpoints and proofs with Go's reference
// implementation (golang.org/x/mod/sumdb/note and sumdb/tlog), independently of the
// Python code. Input on stdin (JSON):
//
//	{"vkey": "...", "checkpoint": "<signed note>",
//	 "inclusion": [{"leaf_index", "tree_size", "leaf_hash", "root", "proof": [b64...]}],
//	 "consistency": [{"size1", "size2", "root1", "root2", "proof": [b64...]}]}
//
// It prints one line per check and exits 1 if any fails.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	LeafIdx  int64    `json:"leaf_index"`
	TreeSize int64    `json:"tree_size"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	Proof    []string `json:"proof"`
}

type consistency struct {
	Size1 int64    `json:"size1"`
	Size2 int64    `json:"size2"`
	Root1 string   `json:"root1"`
	Root2 string   `json:"root2"`
	Proof []string `json:"proof"`
}

type input struct {
	Vkey        string        `json:"vkey"`
	Checkpoint  string        `json:"checkpoint"`
	Inclusion   []inclusion   `json:"inclusion"`
	Consistency []consistency `json:"consistency"`
}

func hash(s string) tlog.Hash {
	var h tlog.Hash
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(h) {
		fmt.Println("FAIL bad hash", s)
		os.Exit(1)
	}
	copy(h[:], b)
	return h
}

func hashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		out[i] = hash(s)
	}
	return out
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Println("FAIL input:", err)
		os.Exit(1)
	}
	failed := false
	if in.Checkpoint != "" {
		v, err := note.NewVerifier(in.Vkey)
		if err != nil {
			fmt.Println("FAIL vkey:", err)
			os.Exit(1)
		}
		n, err := note.Open([]byte(in.Checkpoint), note.VerifierList(v))
		if err != nil {
			fmt.Println("FAIL checkpoint:", err)
			failed = true
		} else {
			lines := strings.Split(n.Text, "\n")
			size, _ := strconv.ParseInt(lines[1], 10, 64)
			fmt.Printf("OK checkpoint origin=%s size=%d root=%s\n", lines[0], size, lines[2])
		}
	}
	for _, p := range in.Inclusion {
		err := tlog.CheckRecord(hashes(p.Proof), p.TreeSize, hash(p.Root), p.LeafIdx, hash(p.LeafHash))
		if err != nil {
			fmt.Printf("FAIL inclusion %d/%d: %v\n", p.LeafIdx, p.TreeSize, err)
			failed = true
		} else {
			fmt.Printf("OK inclusion %d/%d\n", p.LeafIdx, p.TreeSize)
		}
	}
	for _, p := range in.Consistency {
		err := tlog.CheckTree(hashes(p.Proof), p.Size2, hash(p.Root2), p.Size1, hash(p.Root1))
		if err != nil {
			fmt.Printf("FAIL consistency %d->%d: %v\n", p.Size1, p.Size2, err)
			failed = true
		} else {
			fmt.Printf("OK consistency %d->%d\n", p.Size1, p.Size2)
		}
	}
	if failed {
		os.Exit(1)
	}
}
