package view

// block is one section of the screen with its renderings, fullest first.
// The layout picks one rendering per block so that everything fits; past
// the last rendering the block is hidden.
type block struct {
	variants [][]string
	pick     int
}

// lines is the block's chosen rendering (nil when hidden).
func (b *block) lines() []string {
	if b.pick >= len(b.variants) {
		return nil
	}
	return b.variants[b.pick]
}

// shrink moves the block to its next smaller rendering, reporting whether
// there was one to move to.
func (b *block) shrink() bool {
	if b.pick >= len(b.variants) {
		return false
	}
	b.pick++
	return true
}

// fitBlocks shrinks blocks, one step at a time in the given order (indexes
// into blocks; an index may appear many times), until their lines fit in
// budget or the order runs out.
func fitBlocks(blocks []*block, order []int, budget int) {
	for _, i := range order {
		if totalLines(blocks) <= budget {
			return
		}
		blocks[i].shrink()
	}
}

// totalLines counts the lines of the blocks' chosen renderings.
func totalLines(blocks []*block) int {
	n := 0
	for _, b := range blocks {
		n += len(b.lines())
	}
	return n
}
