"""The Qt classes the plug-in uses, from the binding Krita itself runs on.

Krita 5 embeds PyQt5; Qt 6 builds of Krita (Krita 6) embed PyQt6. The binding is chosen by what
Krita's own ``krita`` module has already loaded, not by trying imports: a second PyQt installed
beside Krita would import fine and then crash against Krita's Qt. The plug-in's code uses only
what both bindings accept: scoped enum names (``Qt.ItemDataRole.ToolTipRole``) and ``exec()``.
"""

from __future__ import annotations

import sys

import krita  # noqa: F401  (Krita's module: it loads Krita's own binding first)

if "PyQt6" in sys.modules and "PyQt5" not in sys.modules:
    from PyQt6 import QtCore, QtGui, QtWidgets
else:
    from PyQt5 import QtCore, QtGui, QtWidgets

BINDING = QtCore.__name__.split(".")[0]

Qt, QObject, QTimer, QEvent = QtCore.Qt, QtCore.QObject, QtCore.QTimer, QtCore.QEvent
QIcon, QImage, QPixmap = QtGui.QIcon, QtGui.QImage, QtGui.QPixmap
QApplication, QWidget, QDialog = QtWidgets.QApplication, QtWidgets.QWidget, QtWidgets.QDialog
QMessageBox, QProgressDialog, QFileDialog = QtWidgets.QMessageBox, QtWidgets.QProgressDialog, QtWidgets.QFileDialog
QDialogButtonBox, QButtonGroup = QtWidgets.QDialogButtonBox, QtWidgets.QButtonGroup
QFormLayout, QHBoxLayout, QVBoxLayout = QtWidgets.QFormLayout, QtWidgets.QHBoxLayout, QtWidgets.QVBoxLayout
QLabel, QCheckBox, QRadioButton, QToolButton = (QtWidgets.QLabel, QtWidgets.QCheckBox, QtWidgets.QRadioButton,
                                                QtWidgets.QToolButton)
QComboBox, QSpinBox, QDoubleSpinBox = QtWidgets.QComboBox, QtWidgets.QSpinBox, QtWidgets.QDoubleSpinBox
