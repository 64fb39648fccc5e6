package cli

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// Version is the release, set by scripts/release.sh with
// -ldflags "-X keyden/cli.Version=…". Left empty, the module version Go
// stamps from the tree's tag (or a pseudo-version) is used.
var Version = ""

// Commit and BuildDate may be set the same way; left empty they come from
// the build info Go records for a build inside a git tree.
var (
	Commit    = ""
	BuildDate = ""
)

// BuildInfo is what `keyden --version` and `keyden info` say of the binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	BuildDate string `json:"build_date,omitempty"`
	// CommitDate is when Commit was made: a build from a tree has no
	// build date of its own (Go keeps builds reproducible).
	CommitDate string `json:"commit_date,omitempty"`
	// Modified says the tree had changes not in Commit.
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
}

// Build reads the version facts from the ldflags and from Go's build info.
func Build() BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildFrom(bi)
}

func buildFrom(bi *debug.BuildInfo) BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, BuildDate: BuildDate}
	if bi != nil {
		b.Go = bi.GoVersion
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = strings.TrimSuffix(bi.Main.Version, "+dirty")
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				b.CommitDate = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// String is the one line `keyden --version` prints after the program name.
func (b BuildInfo) String() string {
	var extra []string
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified {
			c += ", modified"
		}
		extra = append(extra, "commit "+c)
	}
	if b.BuildDate != "" {
		extra = append(extra, "built "+b.BuildDate)
	} else if b.CommitDate != "" {
		extra = append(extra, "committed "+b.CommitDate)
	}
	if b.Go != "" {
		extra = append(extra, b.Go)
	}
	if len(extra) == 0 {
		return b.Version
	}
	return fmt.Sprintf("%s (%s)", b.Version, strings.Join(extra, ", "))
}
