// A windowed list: only the rows in view (plus a margin) are in the DOM, so a list of 10,000
// items costs what 30 do. The <ul> keeps its role and name; each rendered <li> says where it
// is (aria-setsize / aria-posinset), so screen readers still hear "item 5 of 1,000".
//
//   const v = new VirtualList(viewport, ul, {rowHeight, heightOf, key, render});
//   v.setItems(items)           // re-renders what is in view
//   v.refresh()                 // items changed in place (e.g. a row expanded)
//
// Rows may have different heights (heightOf(item)); offsets are prefix sums, recomputed when
// the items change (linear, a few ms for 10,000), and the first row in view is found by
// binary search. A rendered row is reused while its key and revision stay the same.

const OVERSCAN = 8;

export class VirtualList {
  constructor(viewport, ul, { rowHeight, heightOf, key, rev, render, stickToEnd = false }) {
    this.viewport = viewport;
    this.ul = ul;
    this.rowHeight = rowHeight;
    this.heightOf = heightOf || (() => rowHeight);
    this.key = key;
    this.rev = rev || (() => 0);
    this.render = render;
    this.stickToEnd = stickToEnd;
    this.items = [];
    this.offsets = new Float64Array(1);
    this.rows = new Map(); // key -> {li, rev, height}
    this._frame = 0;
    ul.style.position = "relative";
    viewport.addEventListener("scroll", () => this._schedule(), { passive: true });
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => this._schedule()).observe(viewport);
    }
  }

  get length() {
    return this.items.length;
  }

  atEnd() {
    const v = this.viewport;
    return v.scrollHeight - v.scrollTop - v.clientHeight < 4;
  }

  setItems(items) {
    const follow = this.stickToEnd && this.atEnd();
    this.items = items;
    this._layout();
    if (follow) this.viewport.scrollTop = this.viewport.scrollHeight;
    this.draw();
  }

  refresh() {
    this._layout();
    this.draw();
  }

  indexOfKey(k) {
    return this.items.findIndex((item) => this.key(item) === k);
  }

  scrollToIndex(i) {
    if (i < 0 || i >= this.items.length) return;
    const top = this.offsets[i];
    const v = this.viewport;
    if (top < v.scrollTop) v.scrollTop = top;
    else if (top + this.heightOf(this.items[i]) > v.scrollTop + v.clientHeight) {
      v.scrollTop = top + this.heightOf(this.items[i]) - v.clientHeight;
    }
    this.draw();
  }

  _layout() {
    const n = this.items.length;
    const offsets = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) offsets[i + 1] = offsets[i] + this.heightOf(this.items[i]);
    this.offsets = offsets;
    this.ul.style.height = `${offsets[n]}px`;
  }

  _schedule() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this.draw();
    });
  }

  _first(top) {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offsets[mid + 1] <= top) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Render the rows in view now. */
  draw() {
    const v = this.viewport;
    const n = this.items.length;
    const top = v.scrollTop;
    const bottom = top + (v.clientHeight || this.rowHeight * 20);
    let start = Math.max(0, this._first(top) - OVERSCAN);
    let end = this._first(bottom) + OVERSCAN;
    end = Math.min(n, end + 1);
    start = Math.min(start, end);
    const keep = new Map();
    const size = String(n);
    for (let i = start; i < end; i++) {
      const item = this.items[i];
      const k = this.key(item);
      const rev = this.rev(item);
      let row = this.rows.get(k);
      if (!row || row.rev !== rev) {
        const li = this.render(item, i);
        li.style.position = "absolute";
        li.style.left = "0";
        li.style.right = "0";
        if (row) row.li.replaceWith(li);
        row = { li, rev };
      }
      const li = row.li;
      li.style.top = `${this.offsets[i]}px`;
      li.style.height = `${this.heightOf(item)}px`;
      li.setAttribute("aria-setsize", size);
      li.setAttribute("aria-posinset", String(i + 1));
      keep.set(k, row);
    }
    for (const [k, row] of this.rows) if (!keep.has(k)) row.li.remove();
    // DOM order follows list order (screen readers read it in order)
    let prev = null;
    for (let i = start; i < end; i++) {
      const li = keep.get(this.key(this.items[i])).li;
      const want = prev ? prev.nextSibling : this.ul.firstChild;
      if (want !== li) this.ul.insertBefore(li, want);
      prev = li;
    }
    this.rows = keep;
    this.visible = [start, end];
    this.ul.dispatchEvent(new CustomEvent("window", { detail: { start, end } }));
  }
}
