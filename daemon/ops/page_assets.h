/*
 * The status page's style and script, as C strings: no build step, no
 * external resource. The page's Content-Security-Policy allows exactly
 * these two by their SHA-256 (page.c computes it once), nothing inline
 * besides, and fetches only from the daemon itself.
 *
 * The script refreshes the table from GET /v1/accounts every few seconds
 * (the sign-in cookie goes with it) and writes every value with
 * textContent, never as HTML. It reads the fields defensively: a missing
 * one leaves the cell as "unknown" rather than breaking the table, and a
 * failed fetch keeps the rows the server rendered.
 */
#ifndef PAD_PAGE_ASSETS_H
#define PAD_PAGE_ASSETS_H

#define PAD_PAGE_STYLE \
	"body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1b1b1b;background:#fafafa}" \
	"h1{font-size:1.4rem;margin:0 0 .5rem}" \
	"table{border-collapse:collapse;width:100%;background:#fff}" \
	"th,td{border:1px solid #ccc;padding:.35rem .5rem;text-align:left;vertical-align:top;font-size:.95rem}" \
	"th{background:#eee}" \
	"tr.needs-human td{background:#fff1f0}" \
	".health-invalid{color:#a8071a;font-weight:600}.health-ok{color:#237804}" \
	".muted{color:#666}.error{color:#a8071a;font-weight:600}" \
	"form{margin-top:1rem}input[type=password]{width:28rem;max-width:100%;padding:.3rem}" \
	"button{padding:.3rem .8rem}"

#define PAD_PAGE_SCRIPT \
	"(function(){'use strict';\n" \
	"var body=document.getElementById('pad-accounts');\n" \
	"var note=document.getElementById('pad-updated');\n" \
	"function utc(s){if(!s||s<=0)return '';" \
	"return new Date(s*1000).toISOString().replace('T',' ').slice(0,19)+' UTC';}\n" \
	"function reason(a){return a.needs_human?(a.needs_human_reason||'This account needs attention.'):'';}\n" \
	"function health(a){var h=a.health;if(h&&typeof h==='object')return h.state||'not checked yet';" \
	"return h||'not checked yet';}\n" \
	"function credits(p){var c=p&&p.credits;if(c===undefined||c===null)return 'unknown';" \
	"if(typeof c==='number')return String(c);var out=[];" \
	"if(Array.isArray(c)){c.forEach(function(x){out.push((x.kind||'credits')+' '+x.amount);});}" \
	"else{Object.keys(c).sort().forEach(function(k){out.push(k+' '+c[k]);});}" \
	"return out.length?out.join(', '):'unknown';}\n" \
	"function slots(p){if(!p)return 'unknown';" \
	"var m=p.max_concurrent!==undefined?p.max_concurrent:p.max_slots;" \
	"return (p.in_use||0)+' / '+(m===undefined?'?':m);}\n" \
	"function cooldown(a){var p=a.pool||{};var u=a.cooldown_until||p.cooldown_until;" \
	"if(!u||u*1000<=Date.now())return 'none';" \
	"var r=a.cooldown_reason||p.cooldown_reason;return 'until '+utc(u)+(r?' ('+r+')':'');}\n" \
	"function recovered(a){var h=a.health;" \
	"if(h&&typeof h==='object'&&h.state==='ok'&&h.at)return utc(h.at);return 'none';}\n" \
	"function cell(tr,text,cls){var td=document.createElement('td');td.textContent=text;" \
	"if(cls)td.className=cls;tr.appendChild(td);}\n" \
	"function render(list){var rows=document.createDocumentFragment();" \
	"list.forEach(function(a){var tr=document.createElement('tr');var r=reason(a);var h=health(a);" \
	"if(r)tr.className='needs-human';" \
	"cell(tr,a.provider_id||a.provider||'');cell(tr,a.email||'');" \
	"cell(tr,h,'health-'+(h==='invalid'?'invalid':h==='ok'?'ok':'other'));" \
	"cell(tr,cooldown(a));cell(tr,slots(a.pool));cell(tr,credits(a.pool));" \
	"cell(tr,recovered(a));cell(tr,r);rows.appendChild(tr);});" \
	"while(body.firstChild)body.removeChild(body.firstChild);body.appendChild(rows);}\n" \
	"function refresh(){fetch('/v1/accounts',{credentials:'same-origin',headers:{'Accept':'application/json'}})" \
	".then(function(r){if(!r.ok)throw new Error('HTTP '+r.status);return r.json();})" \
	".then(function(j){var list=Array.isArray(j)?j:(j.accounts||j.items||[]);render(list);" \
	"note.textContent='Updated '+utc(Date.now()/1000)+'.';note.className='muted';})" \
	".catch(function(e){note.textContent='Could not refresh ('+e.message+'); showing the last rows.';" \
	"note.className='error';});}\n" \
	"setInterval(refresh,5000);refresh();\n" \
	"})();\n"

#endif /* PAD_PAGE_ASSETS_H */
