// Command longfuncs lists the functions of the repository longer than a limit
// (80 lines by default), longest first, leaving out tests and generated code.
//
//	go run ./internal/longfuncs            # from the repository root
//	go run ./internal/longfuncs -max 60 -fail
//
// With -fail it exits 1 when it lists any function.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// long is one function over the limit.
type long struct {
	pos   token.Position
	name  string
	lines int
}

func main() {
	maxLines := flag.Int("max", 80, "list functions with more lines than this")
	fail := flag.Bool("fail", false, "exit 1 when any function is listed")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	found, err := scan(root, *maxLines)
	if err != nil {
		fmt.Fprintln(os.Stderr, "longfuncs:", err)
		os.Exit(2)
	}
	for _, l := range found {
		fmt.Printf("%4d  %s  %s:%d\n", l.lines, l.name, l.pos.Filename, l.pos.Line)
	}
	fmt.Printf("%d functions over %d lines (tests and generated code left out)\n", len(found), *maxLines)
	if *fail && len(found) > 0 {
		os.Exit(1)
	}
}

// scan parses every non-test, non-generated Go file under root and returns
// the functions longer than maxLines, longest first.
func scan(root string, maxLines int) ([]long, error) {
	var out []long
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if gen, err := generated(path); err != nil || gen {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			start, end := fset.Position(fd.Pos()), fset.Position(fd.End())
			if n := end.Line - start.Line + 1; n > maxLines {
				out = append(out, long{pos: start, name: funcName(fd), lines: n})
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].lines > out[j].lines })
	return out, err
}

// generated reports whether the file carries Go's "Code generated … DO NOT
// EDIT." line before its package clause.
func generated(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "package ") {
			return false, nil
		}
		if strings.HasPrefix(line, "// Code generated ") && strings.HasSuffix(line, " DO NOT EDIT.") {
			return true, nil
		}
	}
	return false, sc.Err()
}

// funcName is Name or (Recv).Name.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}
