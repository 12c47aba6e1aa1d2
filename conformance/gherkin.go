// Package conformance runs the Open Workflow conformance kit (Gherkin
// features) against a workflow runner, with the HTTP services the features
// call served locally so that the run is hermetic.
package conformance

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Feature is a parsed .feature file.
type Feature struct {
	File      string
	Name      string
	Scenarios []*Scenario
}

// Scenario is one scenario with its steps.
type Scenario struct {
	Name  string
	Line  int
	Steps []*Step
}

// Step is one Given/When/Then line with its doc string, if any.
type Step struct {
	Keyword   string // Given, When, Then, And, But
	Text      string
	Line      int
	DocString string
	MediaType string
}

// ParseFile parses a feature file.
func ParseFile(path string) (*Feature, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read feature %s: %w", path, err)
	}
	return Parse(path, string(data))
}

var keywords = []string{"Given", "When", "Then", "And", "But", "*"}

// Parse parses the Gherkin subset the conformance kit uses: Feature,
// Background, Scenario, steps and doc strings.
func Parse(file, text string) (*Feature, error) {
	f := &Feature{File: file}
	var background []*Step
	var cur *Scenario
	inBackground := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lineNo := 0
	var lastStep *Step
	for sc.Scan() {
		lineNo++
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, `"""`) || strings.HasPrefix(line, "```"):
			if lastStep == nil {
				return nil, fmt.Errorf("%s:%d: doc string without a step", file, lineNo)
			}
			fence := line[:3]
			lastStep.MediaType = strings.TrimSpace(line[3:])
			indent := len(raw) - len(strings.TrimLeft(raw, " \t"))
			var body []string
			closed := false
			for sc.Scan() {
				lineNo++
				l := sc.Text()
				if strings.TrimSpace(l) == fence {
					closed = true
					break
				}
				// Strip the opening fence's indentation, no more.
				strip := 0
				for strip < indent && strip < len(l) && (l[strip] == ' ' || l[strip] == '\t') {
					strip++
				}
				body = append(body, l[strip:])
			}
			if !closed {
				return nil, fmt.Errorf("%s:%d: doc string is not closed with %s", file, lineNo, fence)
			}
			lastStep.DocString = strings.Join(body, "\n")
			continue
		case strings.HasPrefix(line, "Feature:"):
			f.Name = strings.TrimSpace(strings.TrimPrefix(line, "Feature:"))
			continue
		case strings.HasPrefix(line, "Background:"):
			inBackground, cur, lastStep = true, nil, nil
			continue
		case strings.HasPrefix(line, "Scenario:") || strings.HasPrefix(line, "Example:"):
			name := strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
			cur = &Scenario{Name: name, Line: lineNo, Steps: append([]*Step{}, background...)}
			f.Scenarios = append(f.Scenarios, cur)
			inBackground, lastStep = false, nil
			continue
		case strings.HasPrefix(line, "Scenario Outline:"):
			return nil, fmt.Errorf("%s:%d: Scenario Outline is not supported by this runner", file, lineNo)
		}
		kw := ""
		for _, k := range keywords {
			if strings.HasPrefix(line, k+" ") {
				kw = k
				break
			}
		}
		if kw == "" {
			if cur == nil && !inBackground {
				continue // feature description
			}
			return nil, fmt.Errorf("%s:%d: %q is not a step (steps start with Given, When, Then, And or But)", file, lineNo, line)
		}
		st := &Step{Keyword: kw, Text: strings.TrimSpace(line[len(kw):]), Line: lineNo}
		lastStep = st
		switch {
		case inBackground:
			background = append(background, st)
		case cur != nil:
			cur.Steps = append(cur.Steps, st)
		default:
			return nil, fmt.Errorf("%s:%d: step outside a scenario", file, lineNo)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return f, nil
}
