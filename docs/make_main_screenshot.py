"""Screenshot of the real main window under Xvfb (issue 4), for the README.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_main_screenshot.py COLLECTION OUT.png

Needs Debian packages xvfb and the xcb libraries Qt uses (libxcb-cursor0 libxcb-icccm4
libxcb-keysyms1). Works on the collection given; quantise the PNG afterwards if it is large.
"""
import pathlib, sys, time
from PySide6.QtWidgets import QApplication
from PySide6.QtGui import QGuiApplication
app=QApplication(sys.argv[:1])
print("platform:", QGuiApplication.platformName())
from artannot.app.main_window import MainWindow, WindowSettings
w=MainWindow(WindowSettings(autosave_seconds=0)); w.prompt=lambda t,x,c: c[-1]
w.resize(1600, 1000); w.move(0,0); w.show()
w.open_collection(pathlib.Path(sys.argv[1]), wait=True)
def pump(n):
    for _ in range(n): app.processEvents(); time.sleep(0.02)
pump(50)
w.browser.select_id('images/vangogh_starry_night.jpg'); pump(100)
w.editor.canvas().fit_window(); pump(50)
w.editor.select_indices([1]); pump(150)
shot = QGuiApplication.primaryScreen().grabWindow(0)
shot.save(sys.argv[2]); print("saved", shot.width(), shot.height())
w._restored=False; w.close()
