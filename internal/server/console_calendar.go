package server

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/overview"
	"github.com/stratahq/strata/internal/units"
)

// stateText is what a calendar cell's state means, for its label.
var stateText = map[string]string{
	overview.StateLive:       "live only (in the database, not archived)",
	overview.StateArchived:   "archived",
	overview.StatePartly:     "partly archived (rows still in the database)",
	overview.StateSuperseded: "superseded (a correction replaced objects)",
	overview.StateRestored:   "restored into Layer 2",
	overview.StateExpiring:   "expiring within 30 days",
	overview.StateExpired:    "expired",
}

// calendar draws one archive type's days as a table: a row per month, a
// cell per day, each day with data a link to its day view whose label
// (shown on hover and focus) says what it holds. It is built directly,
// not through html/template, to stay fast on archives of thousands of
// days; every text in it is escaped (template.HTMLEscapeString) or made
// here of digits and fixed words.
func calendar(dataset, typ string, days []overview.Day) template.HTML {
	if len(days) == 0 {
		return template.HTML(`<p class="muted">no ` + template.HTMLEscapeString(typ) + ` days</p>`)
	}
	var b strings.Builder
	b.Grow(len(days)*260 + 2048)
	ds, ty := template.HTMLEscapeString(dataset), template.HTMLEscapeString(typ)
	fmt.Fprintf(&b, `<table class="cal" data-dataset="%s" data-type="%s" aria-label="%s %s archive by day"><thead><tr><th scope="col">month</th>`, ds, ty, ds, ty)
	for d := 1; d <= 31; d++ {
		if d%5 == 0 || d == 1 {
			fmt.Fprintf(&b, `<th scope="col">%d</th>`, d)
		} else {
			b.WriteString(`<th scope="col"></th>`)
		}
	}
	b.WriteString(`</tr></thead><tbody>`)
	first, last := days[0].Day, days[len(days)-1].Day
	i := 0
	for m := time.Date(first.Year(), first.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(last); m = m.AddDate(0, 1, 0) {
		fmt.Fprintf(&b, `<tr><th scope="row">%s</th>`, m.Format("2006-01"))
		n := m.AddDate(0, 1, -1).Day()
		for d := 1; d <= 31; d++ {
			if d > n {
				b.WriteString(`<td class="x"></td>`)
				continue
			}
			day := m.AddDate(0, 0, d-1)
			if i < len(days) && days[i].Day.Equal(day) {
				cell(&b, ds, ty, &days[i])
				i++
				continue
			}
			b.WriteString(`<td class="e"></td>`)
		}
		b.WriteString(`</tr>`)
	}
	b.WriteString(`</tbody></table>`)
	return template.HTML(b.String())
}

// cell writes one day's link; ds and ty are escaped already.
func cell(b *strings.Builder, ds, ty string, d *overview.Day) {
	date := d.Day.Format(time.DateOnly)
	b.WriteString(`<td><a class="c `)
	b.WriteString(d.State)
	b.WriteString(`" href="/console/day?dataset=`)
	b.WriteString(ds)
	b.WriteString(`&amp;type=`)
	b.WriteString(ty)
	b.WriteString(`&amp;day=`)
	b.WriteString(date)
	b.WriteString(`" data-day="`)
	b.WriteString(date)
	b.WriteString(`" aria-label="`)
	b.WriteString(date)
	b.WriteString(` `)
	b.WriteString(ty)
	b.WriteString(`: `)
	b.WriteString(stateText[d.State])
	if d.Objects > 0 {
		fmt.Fprintf(b, `; %d object`, d.Objects)
		if d.Objects > 1 {
			b.WriteByte('s')
		}
		b.WriteString(`, `)
		b.WriteString(num(d.Rows))
		b.WriteString(` rows, `)
		b.WriteString(units.Bytes(d.Bytes))
	}
	if d.Live > 0 {
		b.WriteString(`; `)
		b.WriteString(num(d.Live))
		b.WriteString(` rows in the database`)
	}
	if d.Superseded > 0 {
		fmt.Fprintf(b, `; %d superseded`, d.Superseded)
	}
	if d.Restored > 0 {
		fmt.Fprintf(b, `; %d restored`, d.Restored)
	}
	if d.Expired > 0 {
		fmt.Fprintf(b, `; %d expired`, d.Expired)
	}
	if d.ExpiresAt != nil {
		b.WriteString(`; expires `)
		b.WriteString(d.ExpiresAt.UTC().Format(time.DateOnly))
	}
	b.WriteString(`"></a></td>`)
}

// bars draws the dataset's bytes per place as an inline SVG bar chart:
// PostgreSQL's Layer 3 and Layer 2 against the source and analytics
// archives.
func bars(d overview.Dataset) template.HTML {
	type bar struct {
		label string
		bytes int64
		color string
	}
	var bs []bar
	if d.Layer3 != nil {
		bs = append(bs, bar{"Layer 3 (PostgreSQL)", max(d.Layer3.Bytes, 0), "#9ec5fe"})
	}
	if d.Layer2 != nil {
		bs = append(bs, bar{"Layer 2 (PostgreSQL)", max(d.Layer2.Bytes, 0), "#5b8def"})
	}
	bs = append(bs, bar{"source archive", d.Source.Bytes, "#6aa84f"}, bar{"analytics archive", d.Analytics.Bytes, "#2e7d32"})
	var top int64 = 1
	for _, x := range bs {
		top = max(top, x.bytes)
	}
	const rowH, labelW, barW = 20, 150, 300
	var b strings.Builder
	ds := template.HTMLEscapeString(d.Name)
	fmt.Fprintf(&b, `<svg class="bars" role="img" aria-label="%s: bytes in the database and in the archive" viewBox="0 0 %d %d" width="100%%" style="max-width:%dpx">`,
		ds, labelW+barW+90, rowH*len(bs)+4, labelW+barW+90)
	for i, x := range bs {
		y := i*rowH + 2
		w := int(float64(barW) * float64(x.bytes) / float64(top))
		if x.bytes > 0 {
			w = max(w, 1)
		}
		fmt.Fprintf(&b, `<text x="0" y="%d">%s</text><rect x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s: %s</title></rect><text x="%d" y="%d">%s</text>`,
			y+13, x.label, labelW, y+2, w, rowH-6, x.color, x.label, units.Bytes(x.bytes), labelW+w+6, y+13, units.Bytes(x.bytes))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
