/** Inline CSS and JS of the HTML report (no external URLs: the file must work offline). */
export const REPORT_CSS = `
*{box-sizing:border-box}body{font:13px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{padding:12px 20px;background:#1f2937;color:#f9fafb}header h1{font-size:17px;margin:0 0 6px}
#summary span{display:inline-block;margin-right:14px}#replay{margin:6px 0 0;padding:6px 8px;background:#111827;color:#a7f3d0;border-radius:4px;white-space:pre-wrap;font:12px ui-monospace,monospace}
section{padding:8px 20px}h2{font-size:14px;margin:10px 0 6px}
table{border-collapse:collapse;background:#fff;width:100%}th,td{border:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f4f6}.badge,#verdicts td:first-child{white-space:nowrap}#summary .mono{word-break:break-all;color:#d1d5db}#ops td:nth-child(7){word-break:break-all;max-width:640px}
.badge{font-weight:600;padding:1px 6px;border-radius:3px}.v-true{background:#d1fae5;color:#065f46}.v-false{background:#fee2e2;color:#991b1b}.v-unknown{background:#fef3c7;color:#92400e}
tr.bad td{background:#fff5f5}code,.mono{font:12px ui-monospace,monospace}a{color:#1d4ed8}
#timeline-wrap{overflow-x:auto;border:1px solid #e5e7eb;background:#fff}#controls{margin-bottom:6px}#controls button{min-width:28px}.band{fill:#6366f1;opacity:.15}svg#timeline{cursor:crosshair;user-select:none}
svg text{font:11px system-ui,sans-serif}.lbl{font-weight:600}.sub{fill:#6b7280}.axis line{stroke:#e5e7eb}.axis text{fill:#6b7280}
.phase-active{fill:#cdebd0}.phase-background{fill:#fdf0b0}.phase-suspending{fill:#fcd29f}.phase-suspended{fill:#d4d4d8}.phase-other{fill:#e0e7ff}
.lane-lock{fill:#8b5cf6}.lane-lock.wait{fill:#ddd6fe}.lane-tx{fill:#3b82f6}.lane-net{fill:#14b8a6}.lane-db{fill:#b45309}.lane-ops{fill:#9ca3af}
rect.fail{stroke:#dc2626;stroke-width:1.5}rect.open{stroke:#111;stroke-dasharray:3 2}rect.pending{opacity:.55}
.mark-freeze{fill:#0284c7}.mark-thaw{fill:#16a34a}.mark-kill{fill:#111}.violation line{stroke:#dc2626;stroke-width:1.5;stroke-dasharray:4 2}.violation path{fill:#dc2626}
.flow{fill:none;stroke:#6366f1;stroke-width:1;opacity:.55}.hide-flows .flow{display:none}
#legend span{display:inline-block;margin-right:12px}
.alert{background:#fee2e2;border:1px solid #fca5a5;color:#7f1d1d;padding:6px 10px;border-radius:4px}#story h3{font-size:13px;margin:8px 0 4px}
#expectations li.met{color:#065f46}#expectations li.not-met{color:#991b1b;font-weight:600}#logs{margin-top:4px}#logs a{color:#93c5fd;margin-right:10px}header .broken{color:#fca5a5;font-weight:600}#description{font-size:14px;max-width:70em}#legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
`;

export const REPORT_JS = `
(function(){
var D=JSON.parse(document.getElementById('nsekit-data').textContent);
var NS='http://www.w3.org/2000/svg',LANES=D.lanes;
function el(tag,attrs,text,parent){var e=document.createElement(tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(text!=null)e.textContent=text;if(parent)parent.appendChild(e);return e}
function sv(tag,attrs,parent){var e=document.createElementNS(NS,tag);for(var k in attrs)e.setAttribute(k,attrs[k]);if(parent)parent.appendChild(e);return e}
function title(node,text){var t=sv('title',{},node);t.textContent=text}
var m=D.meta||{};
document.title='nsekit sim \\u2014 '+(m.scenario||'run')+(m.seed!=null?' seed '+m.seed:'');
// The header and the scenario's story are rendered in the HTML itself (readable without JS).
var tb=document.querySelector('#verdicts tbody');
D.verdicts.forEach(function(v){
  var tr=el('tr',{class:'verdict'+(v.valid===false?' bad':''),'data-invariant':v.invariant,'data-valid':String(v.valid)},null,tb);
  el('td',{class:'mono'},v.invariant,tr);el('td',{},v.kind,tr);
  el('span',{class:'badge v-'+v.valid},v.valid===true?'\\u2713 holds':v.valid===false?'\\u2717 violated':'? unknown',el('td',{},null,tr));
  var td=el('td',{},null,tr);
  v.violations.forEach(function(x){var d=el('div',{},x.detail+' \\u2014 ops ',td);x.ops.forEach(function(i,j){if(j)d.appendChild(document.createTextNode(', '));el('a',{href:'#op-'+i},String(i),d)})});
  el('td',{},v.notes.join('; '),tr);
});
// Opens on the activity (D.tStart), not on the world's start-up; "whole run" shows it all.
var v0=D.tStart||0,v1=Math.max(D.tEnd,1),svg=document.getElementById('timeline'),wrap=document.getElementById('timeline-wrap'),geo=null;
function draw(){
  while(svg.firstChild)svg.removeChild(svg.firstChild);
  var L=150,W=Math.max(900,(wrap.clientWidth||1200)-4),RH=16,GAP=10,TOP=22,span=Math.max(v1-v0,1e-3),px=(W-L-20)/span;
  function X(t){return L+(Math.min(Math.max(t,v0),v1)-v0)*px}
  geo={L:L,px:px};
  var rows=[],y=TOP,rowY={};
  D.procs.forEach(function(p){var ls=LANES.filter(function(l){return D.used[p]&&D.used[p].indexOf(l)>=0});if(!ls.length)ls=['ops'];var r={proc:p,lanes:ls,y:y,ys:[],hs:[]};ls.forEach(function(l){var n=D.rowsOf[p+'/'+l]||1;rowY[p+'/'+l]=y;r.ys.push(y);r.hs.push(n*RH);y+=n*RH});r.h=y-r.y;rows.push(r);y+=GAP});
  var H=y+10;svg.setAttribute('width',W);svg.setAttribute('height',H);svg.setAttribute('viewBox','0 0 '+W+' '+H);
  var ax=sv('g',{class:'axis'},svg),step=Math.pow(10,Math.floor(Math.log10(span/6||1)));if(span/step>12)step*=5;else if(span/step>6)step*=2;
  for(var t=Math.ceil(v0/step)*step;t<=v1+1e-9;t+=step){sv('line',{x1:X(t),x2:X(t),y1:TOP-4,y2:H},ax);var tx=sv('text',{x:X(t)+2,y:12},ax);tx.textContent=(Math.round(t*100)/100)+' ms'}
  rows.forEach(function(r){
    var g=sv('g',{class:'lane','data-proc':r.proc},svg);
    var lb=sv('text',{x:6,y:r.y+12,class:'lbl'},g);lb.textContent=r.proc;
    r.lanes.forEach(function(l,i){var ry=r.ys[i],lh=r.hs[i];var rg=sv('g',{class:'row','data-lane':l},g);var st=sv('text',{x:L-6,y:ry+12,class:'sub','text-anchor':'end'},rg);st.textContent=l;sv('line',{x1:L,x2:W,y1:ry+lh,y2:ry+lh,stroke:'#f3f4f6'},rg)});
  });
  D.spans.forEach(function(s){
    var ry=rowY[s.proc+'/'+s.lane];if(ry==null||s.end<v0||s.start>v1)return;ry+=(s.row||0)*RH;
    var g=svg.querySelector('g.lane[data-proc="'+s.proc+'"] g.row[data-lane="'+s.lane+'"]');
    var cls='span '+(s.lane==='phase'?('phase-'+(['active','background','suspending','suspended'].indexOf(s.name)>=0?s.name:'other')):('lane-'+s.lane+(s.name==='wait lock'?' wait':'')));
    if(s.status==='fail')cls+=' fail';if(s.open&&s.lane!=='phase')cls+=' open';if(s.status==='pending')cls+=' pending';
    var w=Math.max(2,X(s.end)-X(s.start)),h=s.lane==='phase'?RH:RH-6;
    var rc=sv('rect',{x:X(s.start),y:ry+(RH-h)/2,width:w,height:h,class:cls,rx:1},g);
    title(rc,s.proc+(s.pid!=null?' pid '+s.pid:'')+' \\u00b7 '+s.name+' ['+s.status+(s.open?', never closed':'')+']\\n'+s.start+' \\u2192 '+s.end+' ms \\u00b7 ops '+s.ops.join(',')+(s.msgId?'\\nmsg '+s.msgId:'')+(s.error?'\\nerror: '+s.error:'')+(s.value!==undefined?'\\n'+JSON.stringify(s.value).slice(0,300):''));
    if(s.lane==='phase'&&w>40){var tt=sv('text',{x:X(s.start)+3,y:ry+12,class:'sub'},g);tt.textContent=s.name}
  });
  var fg=sv('g',{class:'flows'},svg);
  D.flows.forEach(function(f){var pts=f.points.map(function(p){return X(p.t)+','+(rowY[p.proc+'/'+p.lane]+(p.row||0)*RH+RH/2)}).join(' ');var pl=sv('polyline',{points:pts,class:'flow','data-msg':f.msgId},fg);title(pl,'msg '+f.msgId+': '+f.points.map(function(p){return p.name}).join(' \\u2192 '))});
  D.marks.forEach(function(mk){
    var row=rows.filter(function(r){return r.proc===mk.proc})[0];if(!row||mk.t<v0||mk.t>v1)return;var x=X(mk.t),y0=row.y;
    if(mk.kind==='violation'){var g=sv('g',{class:'violation','data-invariant':mk.name},svg);sv('line',{x1:x,x2:x,y1:TOP-4,y2:H},g);sv('path',{d:'M'+(x-5)+' '+(y0)+' L'+(x+5)+' '+y0+' L'+x+' '+(y0+9)+' Z'},g);title(g,'VIOLATION '+mk.name+' at op '+mk.op+': '+mk.detail);return}
    var yb=y0+row.h;var mg=sv('g',{class:'mark mark-'+mk.kind},svg);
    var d=mk.kind==='thaw'?'M'+(x-5)+' '+yb+' L'+(x+5)+' '+yb+' L'+x+' '+(yb-8)+' Z':mk.kind==='kill'?'M'+(x-4)+' '+(yb-8)+' L'+(x+4)+' '+yb+' M'+(x+4)+' '+(yb-8)+' L'+(x-4)+' '+yb:'M'+(x-5)+' '+(yb-8)+' L'+(x+5)+' '+(yb-8)+' L'+x+' '+yb+' Z';
    var pth=sv('path',{d:d,class:'mark-'+mk.kind,stroke:mk.kind==='kill'?'#111':'none','stroke-width':2},mg);title(pth,mk.name+' '+mk.proc+(mk.pid!=null?' pid '+mk.pid:'')+' at '+mk.t+' ms (op '+mk.op+')');
  });
}
draw();
function view(a,b){var full=Math.max(D.tEnd,1);if(b-a<0.05)b=a+0.05;v0=Math.max(0,a);v1=Math.min(full,b);draw();try{history.replaceState(null,'','#t='+Math.round(v0*100)/100+','+Math.round(v1*100)/100)}catch(e){}}
// report.html#t=4500,4700 opens on that time range (ms).
var hm=/^#t=([0-9.]+),([0-9.]+)$/.exec(location.hash);if(hm)view(+hm[1],+hm[2]);
document.getElementById('zoom-in').onclick=function(){var c=(v0+v1)/2,h=(v1-v0)/3.2;view(c-h,c+h)};
document.getElementById('zoom-out').onclick=function(){var c=(v0+v1)/2,h=(v1-v0)*0.8;view(c-h,c+h)};
document.getElementById('zoom-reset').onclick=function(){view(0,Math.max(D.tEnd,1))};
// Drag across the timeline to zoom into that time range.
var drag=null,band=null;
function tAt(ev){var r=svg.getBoundingClientRect();return v0+(ev.clientX-r.left-geo.L)/geo.px}
svg.addEventListener('mousedown',function(ev){drag={x:ev.clientX,t:tAt(ev)};band=sv('rect',{class:'band',x:ev.clientX-svg.getBoundingClientRect().left,y:0,width:0,height:svg.getAttribute('height')},svg)});
window.addEventListener('mousemove',function(ev){if(!drag)return;var r=svg.getBoundingClientRect(),a=Math.min(drag.x,ev.clientX)-r.left;band.setAttribute('x',a);band.setAttribute('width',Math.abs(ev.clientX-drag.x))});
window.addEventListener('mouseup',function(ev){if(!drag)return;var d=drag;drag=null;if(band&&band.parentNode)band.parentNode.removeChild(band);if(Math.abs(ev.clientX-d.x)>5){var t=tAt(ev);view(Math.min(d.t,t),Math.max(d.t,t))}});
document.getElementById('show-flows').onchange=function(e){svg.classList.toggle('hide-flows',!e.target.checked)};
var lg=document.getElementById('legend');
[['phase-active','active'],['phase-background','background'],['phase-suspending','suspending'],['phase-suspended','suspended'],['lane-lock','lock held'],['lane-tx','write tx'],['lane-net','network op'],['lane-db','DB op'],['lane-ops','other op'],['mark-freeze','freeze'],['mark-thaw','thaw'],['mark-kill','kill']].forEach(function(p){var s=el('span',{},null,lg);var i=el('i',{},null,s);var c=document.createElementNS(NS,'svg');c.setAttribute('width',12);c.setAttribute('height',10);sv('rect',{width:12,height:10,class:p[0]},c);i.appendChild(c);s.appendChild(document.createTextNode(p[1]))});
var ot=document.querySelector('#ops tbody');
D.ops.forEach(function(o){var tr=el('tr',{id:'op-'+o.index,class:D.bad.indexOf(o.index)>=0?'bad':''},null,ot);[o.index,o.time,o.proc+(o.pid!=null?' ('+o.pid+')':''),o.type,o.f,o.phase||'',o.value===undefined?'':JSON.stringify(o.value).slice(0,300),o.error||''].forEach(function(c){el('td',{class:'mono'},String(c),tr)})});
document.body.setAttribute('data-rendered','ok');
})();
`;
