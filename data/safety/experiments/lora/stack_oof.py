import numpy as np, json, time
from empathy.safety import risk
from sklearn.model_selection import StratifiedKFold
rows=[json.loads(l) for l in open('data/safety/risk_labelled.jsonl')]
dev=[r for r in rows if r['split'] in ('train','val')]
cc=risk.find_counsel_chat()
weak=[q for q in risk.counsel_chat_questions(cc) if q['split']=='train' and q['benign']]
texts=[r['text'] for r in dev]+[q['text'] for q in weak]; n_dev=len(dev)
_,wins,X=risk._featurise(texts,64,risk._prototype_vectors(),keep=lambda d,i:d<n_dev or i%2==0)
doc=np.array([w.doc for w in wins]); assert (doc==np.load('/tmp/lora/doc.npy')).all()
oof=np.load('/tmp/lora/oof_3.npy')
lvl=np.array([risk.LEVEL_INDEX[r['risk_level']] for r in dev]+[0]*len(weak)); level=lvl[doc]
cats=[set() for _ in doc]; w=np.where(doc<n_dev,1.0,0.5); weak_rows=doc>=n_dev
lv=lvl[:n_dev]; pos,ben=lv>=3,lv<=1
strata=[min(x,3) for x in lv]
def run(Xa, scale_extra=1.0):
    o=np.zeros(n_dev)
    for tr_docs,te_docs in StratifiedKFold(5,shuffle=True,random_state=0).split(np.zeros(n_dev),strata):
        tr=weak_rows|np.isin(doc,tr_docs); te=np.isin(doc,te_docs)
        mean,scale=risk._scaler(Xa[tr])
        Xf,lf,_,wf=risk._with_rule_dropout(Xa[tr],level[tr],[cats[i] for i in np.where(tr)[0]],w[tr],~weak_rows[tr])
        m=risk._fit_lr((Xf-mean)/scale,(lf>=3).astype(int),risk.TRAIN_C,wf)
        np.maximum.at(o,doc[te],m.predict_proba((Xa[te]-mean)/scale)[:,1])
    t=risk._high_threshold(o,pos,0.96)
    fl=o>=t
    return round(fl[pos].mean(),3), round(fl[ben].mean(),3)
print('base', run(X))
# insert tuned columns before rule features
n_rule=len(risk.RULE_FEATURES)
def aug(extra): return np.hstack([X[:,:-n_rule],extra,X[:,-n_rule:]])
print('+tuned', run(aug(oof)))
print('+tuned x5 dup', run(aug(np.repeat(oof,5,axis=1))))
