import time, numpy as np, sys
from empathy.safety import risk
import risk_encoder as re_
from empathy.embeddings import encode
t0=time.time()
rows=[r for r in (__import__('json').loads(l) for l in open('data/safety/risk_labelled.jsonl'))]
dev=[r for r in rows if r['split'] in ('train','val')]
cc=risk.find_counsel_chat()
weak=[q for q in risk.counsel_chat_questions(cc) if q['split']=='train' and q['benign']]
texts=[r['text'] for r in dev]+[q['text'] for q in weak]; n_dev=len(dev)
wt=[];doc=[]
for d,t in enumerate(texts):
    sc=risk.scan_rules(t)
    for i,w in enumerate(risk._doc_windows(d,t,sc)):
        if d<n_dev or i%2==0: wt.append(risk._embed_text(sc,w.start,w.end)); doc.append(d)
doc=np.array(doc); print('windows',len(wt), time.time()-t0)
t=time.time(); bot=re_._bottom(wt); print('bottom s',time.time()-t)
lv=np.array([risk.LEVEL_INDEX[r['risk_level']] for r in dev]+[0]*len(weak))[doc]
Y=np.stack([(lv>=3).astype(float), np.where(lv>=3,(lv>=4).astype(float),-1)],1)
W=np.where(doc<n_dev,1.0,0.5)
ep=int(sys.argv[1]) if len(sys.argv)>1 else 4
from sklearn.model_selection import StratifiedKFold
strata=[min(risk.LEVEL_INDEX[r['risk_level']],3) for r in dev]
oof=np.zeros((len(wt),2))
# weak negatives assigned to folds by index
wf=np.arange(len(weak))%5
for k,(tr,te) in enumerate(StratifiedKFold(5,shuffle=True,random_state=0).split(np.zeros(n_dev),strata)):
    trm=np.isin(doc,tr)|((doc>=n_dev)&(wf[np.clip(doc-n_dev,0,None)]!=k))
    tem=~trm
    t=time.time(); ad=re_.train_adapter([bot[i] for i in np.where(trm)[0]],Y[trm],W[trm],epochs=ep)
    oof[tem]=re_.adapter_logits(ad,[bot[i] for i in np.where(tem)[0]])
    print('fold',k,time.time()-t, flush=True)
np.save('/tmp/lora/oof_%d.npy'%ep,oof); np.save('/tmp/lora/doc.npy',doc)
dmax=np.full(len(texts),-99.0); np.maximum.at(dmax,doc,oof[:,0])
lvd=np.array([risk.LEVEL_INDEX[r['risk_level']] for r in dev])
p=dmax[:n_dev]; pos=lvd>=3; ben=lvd<=1
thr=np.sort(p[pos])[::-1][int(np.ceil(0.96*pos.sum()))-1]
print('oof tuned-only: thr',thr,'recall',(p[pos]>=thr).mean(),'benign',(p[ben]>=thr).mean(), 'cc weak flagged', (dmax[n_dev:]>=thr).mean())
from sklearn.metrics import roc_auc_score; print('auc',roc_auc_score(pos[pos|ben],p[pos|ben]))
print('total',time.time()-t0)
